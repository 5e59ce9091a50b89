// fp32 -> bf16 packing for the bf16 GEMM (CBF16.h has the layouts): 16 or 32
// floats at a time through vcvtne2ps2bf16 (round to nearest even), masked
// loads and stores at every edge (nothing past a row's end is read).
#include "CBF16.h"

#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl")))

/// The mask of the first `count` of 16 lanes (count may be <= 0 or >= 16).
static inline __mmask16 lanes(ptrdiff_t count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

/// The first `count` (<= 32) floats at `p` as 16 pairs (zeros past count).
static inline BF16_TARGET __m512i pairsOf32(const float *p, ptrdiff_t count) {
    __m512 lo = _mm512_maskz_loadu_ps(lanes(count), p);
    __m512 hi = _mm512_maskz_loadu_ps(lanes(count - 16), p + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

void BF16_TARGET ptrain_bf16_convert(const float *src, uint16_t *dst, ptrdiff_t count) {
    for (ptrdiff_t i = 0; i < count; i += 32) {
        ptrdiff_t n = count - i < 32 ? count - i : 32;
        __mmask32 m = n == 32 ? 0xFFFFFFFFu : (__mmask32)((1u << n) - 1);
        _mm512_mask_storeu_epi16(dst + i, m, pairsOf32(src + i, n));
    }
}

void BF16_TARGET ptrain_bf16_pack_rows(const float *src, ptrdiff_t ld, ptrdiff_t rows, ptrdiff_t k,
                                       uint32_t *dst, ptrdiff_t dstRow) {
    ptrdiff_t pairs = (k + 1) / 2;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *s = src + r * ld;
        uint32_t *d = dst + r * dstRow;
        for (ptrdiff_t p = 0; p < pairs; p += 16) {
            _mm512_mask_storeu_epi32(d + p, lanes(pairs - p), pairsOf32(s + 2 * p, k - 2 * p));
        }
    }
}

void BF16_TARGET ptrain_bf16_pack_columns(const float *src, ptrdiff_t ld, ptrdiff_t k, ptrdiff_t n,
                                          uint32_t *dst, ptrdiff_t width, ptrdiff_t panelStride) {
    // bf16 element 2j <- row 2p's column j, 2j+1 <- row 2p+1's (cvtne2ps puts
    // row 2p's 16 values in elements 0..<16 and row 2p+1's in 16..<32).
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    ptrdiff_t pairs = (k + 1) / 2;
    for (ptrdiff_t p = 0; p < pairs; p++) {
        const float *r0 = src + 2 * p * ld, *r1 = r0 + ld;
        int odd = 2 * p + 1 == k;
        for (ptrdiff_t j = 0; j < n; j += 16) {
            __mmask16 m = lanes(n - j);
            __m512 v0 = _mm512_maskz_loadu_ps(m, r0 + j);
            __m512 v1 = odd ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, r1 + j);
            __m512i w = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
            _mm512_storeu_si512(dst + (j / width) * panelStride + p * width + j % width, w);
        }
    }
}

/// In place: afterwards r[j] holds what was column j of the 16x16 words.
/// Four rounds of unzipping row pairs into even and odd lanes; each rotates
/// the bits of the flat index right by one (PTrainKernels/GEMMPacking.swift).
static inline BF16_TARGET void transpose16x16(__m512i r[16]) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int round = 0; round < 4; round++) {
        __m512i t[16];
        for (int i = 0; i < 8; i++) {
            t[i] = _mm512_permutex2var_epi32(r[2 * i], even, r[2 * i + 1]);
            t[8 + i] = _mm512_permutex2var_epi32(r[2 * i], odd, r[2 * i + 1]);
        }
        for (int i = 0; i < 16; i++) r[i] = t[i];
    }
}

void BF16_TARGET ptrain_bf16_pack_transposed(const float *src, ptrdiff_t ld, ptrdiff_t n, ptrdiff_t k,
                                             uint32_t *dst, ptrdiff_t width, ptrdiff_t panelStride) {
    ptrdiff_t pairs = (k + 1) / 2;
    for (ptrdiff_t j = 0; j < n; j += 16) {
        uint32_t *panel = dst + (j / width) * panelStride + j % width;
        for (ptrdiff_t p = 0; p < pairs; p += 16) {
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                r[i] = j + i < n ? pairsOf32(src + (j + i) * ld + 2 * p, k - 2 * p) : _mm512_setzero_si512();
            }
            transpose16x16(r);
            ptrdiff_t steps = pairs - p < 16 ? pairs - p : 16;
            for (ptrdiff_t q = 0; q < steps; q++) _mm512_storeu_si512(panel + (p + q) * width, r[q]);
        }
    }
}
