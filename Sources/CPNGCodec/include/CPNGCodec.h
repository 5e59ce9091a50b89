// PNG decoding and encoding through libpng, in C because libpng reports
// errors by longjmp to a setjmp point, and Swift cannot call setjmp. Every
// function here sets its own setjmp point, so a libpng error (corrupt data,
// truncated file) returns -1 with the message in `message` instead of
// unwinding through Swift frames.
#ifndef CPNGCODEC_H
#define CPNGCODEC_H

#include <stddef.h>
#include <stdint.h>

/// One PNG being decoded from memory: `ptrain_png_read_header`, then
/// `ptrain_png_read_pixels` (or `ptrain_png_read_abort`). The caller owns the
/// struct (the decoder keeps one and reuses it); the libpng state in `png`
/// and `info` lives from a successful header read to the pixels or abort.
typedef struct {
    const uint8_t *data;   ///< The file's bytes.
    size_t size;           ///< Bytes at `data`.
    size_t offset;         ///< Bytes libpng has consumed so far.
    int truncated;         ///< 1 when libpng asked for bytes past the end of the data.
    void *png, *info;      ///< libpng's read and info structs (NULL outside a decode).
    uint32_t width, height;
    int is_color;          ///< 1 for RGB(A) and palette images, 0 for gray(+alpha).
    char message[256];     ///< libpng's (or the reader's) error message after a -1.
} ptrain_png_reader;

/// Reads the signature and header chunks of `r->data` (`r->size` bytes): sets
/// `width`, `height`, `is_color`. 0 on success (then call read_pixels or
/// abort), -1 on error (message set, nothing left to free).
int ptrain_png_read_header(ptrain_png_reader *r);

/// Decodes every pixel into `out`, `height` rows of `width * channels` 8-bit
/// samples, interleaved, where `channels` is 3 (RGB: gray replicated) or 1
/// (only for gray images; colour ones must be read as 3). Palettes and bit
/// depths 1, 2, 4 are expanded, 16-bit samples keep their high byte, alpha
/// and tRNS transparency are dropped, Adam7 interlacing is undone. Frees the
/// libpng state either way. 0 on success, -1 on error (message set).
int ptrain_png_read_pixels(ptrain_png_reader *r, uint8_t *out, int channels);

/// Frees the libpng state of a successful header read without decoding.
void ptrain_png_read_abort(ptrain_png_reader *r);

/// Encodes `height` rows of `width * channels` 8-bit samples (`channels` 1:
/// gray, 3: RGB), non-interlaced, into a new malloc'd buffer `*png` of
/// `*size` bytes (the caller frees it). 0 on success, -1 on error (message
/// written to `message`, `message_size` bytes, nothing to free).
int ptrain_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                      uint8_t **png, size_t *size, char *message, size_t message_size);

#endif
