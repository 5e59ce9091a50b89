// The bf16 micro-kernels (CBF16.h has the contract): vdpbf16ps multiplies
// 16 pairs of bf16 from A (one pair broadcast to all lanes) by 16 pairs
// from B and adds both products to 16 fp32 accumulators. Like the fp32
// 8x32 kernel (PTrainKernels/GEMMMicroKernel.swift): 8 rows x 2 vectors =
// 16 accumulators, 2 B loads and 8 broadcasts per pair step; each step does
// twice the fp32 kernel's multiply-adds (two k steps per instruction).
#include "CBF16.h"

#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl")))

static inline __mmask16 lanes(ptrdiff_t count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

/// `c[lanes of mask] = alpha * v + beta * c`, not reading c when beta == 0.
static inline BF16_TARGET void update(float *c, __mmask16 mask, __m512 v, float alpha, float beta) {
    if (alpha != 1) v = _mm512_mul_ps(v, _mm512_set1_ps(alpha));
    if (beta == 1) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, c));
    else if (beta != 0) v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mask, c), v);
    _mm512_mask_storeu_ps(c, mask, v);
}

/// The shared body; H (rows) and W (16 or 32 columns) are constants at each
/// call, so the unused accumulators fold away.
static inline __attribute__((always_inline)) BF16_TARGET void
kernel(const int H, const int W, ptrdiff_t pairs, ptrdiff_t segments, const ptrdiff_t *offsets,
       const uint32_t *a, ptrdiff_t aRow, ptrdiff_t aPair,
       const uint32_t *b, ptrdiff_t bPair, float *c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta) {
    __m512 acc[8][2];
    const uint32_t *ar[8];
    for (int i = 0; i < H; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
        ar[i] = a + (i < rows ? i : 0) * aRow;   // rows past `rows` repeat row 0 (never stored)
    }
    for (ptrdiff_t segment = 0; segment < segments; segment++) {
        const uint32_t *bs = b + (offsets ? offsets[segment] : 0);
        const ptrdiff_t first = segment * pairs;   // A's pairs continue across segments
        for (ptrdiff_t p = 0; p < pairs; p++) {
            const uint32_t *bp = bs + p * bPair;
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp);
            __m512bh b1 = W == 32 ? (__m512bh)_mm512_loadu_si512(bp + 16) : b0;
            ptrdiff_t ap = (first + p) * aPair;
            for (int i = 0; i < H; i++) {
                __m512bh s = (__m512bh)_mm512_set1_epi32((int)ar[i][ap]);
                acc[i][0] = _mm512_dpbf16_ps(acc[i][0], s, b0);
                if (W == 32) acc[i][1] = _mm512_dpbf16_ps(acc[i][1], s, b1);
            }
        }
    }
    __mmask16 m0 = lanes(cols), m1 = lanes(cols - 16);
    for (int i = 0; i < H && i < rows; i++) {
        update(c + i * ldc, m0, acc[i][0], alpha, beta);
        if (W == 32 && m1) update(c + i * ldc + 16, m1, acc[i][1], alpha, beta);
    }
}

#define BF16_KERNEL(H, W)                                                                                            \
    void BF16_TARGET ptrain_bf16_kernel_##H##x##W(ptrdiff_t pairs, ptrdiff_t segments, const ptrdiff_t *offsets,        \
                                                  const uint32_t *a, ptrdiff_t aRow, ptrdiff_t aPair,                   \
                                                  const uint32_t *b, ptrdiff_t bPair, float *c, ptrdiff_t ldc,          \
                                                  ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta) {           \
        kernel(H, W, pairs, segments, offsets, a, aRow, aPair, b, bPair, c, ldc, rows, cols, alpha, beta);           \
    }

BF16_KERNEL(8, 32)
BF16_KERNEL(8, 16)
BF16_KERNEL(4, 32)
BF16_KERNEL(4, 16)
