// libpng behind setjmp points: see include/CPNGCodec.h for the contract.
#include "CPNGCodec.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// libpng's read callback: the next `count` bytes of the in-memory file, or
/// an error naming the offset where the file ended too early.
static void read_from_memory(png_structp png, png_bytep out, size_t count) {
    ptrain_png_reader *r = png_get_io_ptr(png);
    if (count > r->size - r->offset) {
        r->truncated = 1;
        snprintf(r->message, sizeof r->message, "read past the end of the file at byte offset %zu", r->size);
        png_error(png, r->message);
    }
    memcpy(out, r->data + r->offset, count);
    r->offset += count;
}

static void on_read_error(png_structp png, png_const_charp message) {
    ptrain_png_reader *r = png_get_error_ptr(png);
    if (!r->truncated) snprintf(r->message, sizeof r->message, "%s", message);
    png_longjmp(png, 1);
}

/// Warnings (an unknown ancillary chunk, an sRGB profile libpng dislikes)
/// leave the pixels intact: they are not worth a line per image.
static void ignore_warning(png_structp png, png_const_charp message) {
    (void)png; (void)message;
}

static void free_reader_state(ptrain_png_reader *r) {
    png_structp png = r->png;
    png_infop info = r->info;
    png_destroy_read_struct(&png, info ? &info : NULL, NULL);
    r->png = NULL;
    r->info = NULL;
}

int ptrain_png_read_header(ptrain_png_reader *r) {
    r->offset = 0;
    r->truncated = 0;
    r->message[0] = 0;
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, on_read_error, ignore_warning);
    r->info = r->png ? png_create_info_struct(r->png) : NULL;
    if (!r->info) {
        free_reader_state(r);
        snprintf(r->message, sizeof r->message, "out of memory");
        return -1;
    }
    png_structp png = r->png;
    png_infop info = r->info;
    if (setjmp(png_jmpbuf(png))) {
        free_reader_state(r);
        return -1;
    }
    png_set_read_fn(png, r, read_from_memory);
    png_read_info(png, info);
    r->width = png_get_image_width(png, info);
    r->height = png_get_image_height(png, info);
    r->is_color = (png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR) != 0;
    return 0;
}

int ptrain_png_read_pixels(ptrain_png_reader *r, uint8_t *out, int channels) {
    png_structp png = r->png;
    png_infop info = r->info;
    if (setjmp(png_jmpbuf(png))) {
        free_reader_state(r);
        return -1;
    }
    int color_type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (!r->is_color && channels == 3) png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t row_bytes = (size_t)r->width * (size_t)channels;
    if (png_get_rowbytes(png, info) != row_bytes) {
        snprintf(r->message, sizeof r->message, "rows of %zu bytes after conversion, expected %zu",
                 (size_t)png_get_rowbytes(png, info), row_bytes);
        png_error(png, r->message);
    }
    // Row by row into the caller's buffer (no row-pointer array); with Adam7
    // each pass fills in more pixels of the rows read by the passes before.
    for (int pass = 0; pass < passes; pass++) {
        for (uint32_t y = 0; y < r->height; y++) png_read_row(png, out + (size_t)y * row_bytes, NULL);
    }
    free_reader_state(r);
    return 0;
}

void ptrain_png_read_abort(ptrain_png_reader *r) {
    if (r->png) free_reader_state(r);
}

/// The growing output of an encode, and where its error message goes.
typedef struct {
    uint8_t *data;
    size_t size, capacity;
    char *message;
    size_t message_size;
} png_sink;

static void write_to_memory(png_structp png, png_bytep bytes, size_t count) {
    png_sink *s = png_get_io_ptr(png);
    if (count > s->capacity - s->size) {
        size_t capacity = s->capacity * 2 > s->size + count ? s->capacity * 2 : s->size + count + 4096;
        uint8_t *grown = realloc(s->data, capacity);
        if (!grown) png_error(png, "out of memory");
        s->data = grown;
        s->capacity = capacity;
    }
    memcpy(s->data + s->size, bytes, count);
    s->size += count;
}

static void flush_nothing(png_structp png) {
    (void)png;
}

static void on_write_error(png_structp png, png_const_charp message) {
    png_sink *s = png_get_error_ptr(png);
    snprintf(s->message, s->message_size, "%s", message);
    png_longjmp(png, 1);
}

int ptrain_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                      uint8_t **png_out, size_t *size, char *message, size_t message_size) {
    // On the heap, so its fields are well defined after a longjmp.
    png_sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(message, message_size, "out of memory");
        return -1;
    }
    s->message = message;
    s->message_size = message_size;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, on_write_error, ignore_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        free(s);
        snprintf(message, message_size, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(s->data);
        free(s);
        return -1;
    }
    png_set_write_fn(png, s, write_to_memory, flush_nothing);
    png_set_IHDR(png, info, width, height, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t row_bytes = (size_t)width * (size_t)channels;
    for (uint32_t y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * row_bytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *png_out = s->data;
    *size = s->size;
    free(s);
    return 0;
}
