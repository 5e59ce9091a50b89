// The bf16 compute path's only C: what Swift cannot emit (docs/kernels.md,
// "bf16"). Swift has no bf16 type and no spelling for the AVX512_BF16
// instructions (vdpbf16ps, vcvtne2ps2bf16), so the micro-kernels, the
// fp32 -> bf16 packing and the CPU check live here; the GEMM driver and
// everything around it are Swift (PTrainKernels/BF16GEMM.swift).
//
// Every function but `ptrain_bf16_supported` executes AVX512_BF16
// instructions: call them only after it returned 1. They are compiled with
// a function-level target attribute, so the rest of the binary keeps the
// build's ISA and a CPU without the instructions never executes them.
//
// Packed operands are 32-bit words, each a PAIR of bf16 values for two
// consecutive k steps: low half step 2p, high half step 2p+1 (the layout
// vdpbf16ps multiplies and sums pairwise). An odd k's last pair has a zero
// high half.
#ifndef PTRAIN_CBF16_H
#define PTRAIN_CBF16_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU executes AVX512_BF16 (CPUID leaf 7 subleaf 1, EAX bit 5)
/// together with AVX-512 F/BW/VL and the OS saves the zmm state; else 0.
int ptrain_bf16_supported(void);

/// fp32 -> bf16, round to nearest even (vcvtne2ps2bf16: NaN stays NaN,
/// infinities stay infinite, denormal inputs and outputs are flushed to
/// zero): `dst[i] = bf16(src[i])` for i < count.
void ptrain_bf16_convert(const float *src, uint16_t *dst, ptrdiff_t count);

/// Pairs along rows: for r < rows, p < ceil(k/2):
/// `dst[r*dstRow + p] = pair(src[r*ld + 2p], src[r*ld + 2p + 1])`.
/// (A stored [m, k]: the micro-kernel reads row r at `dst + r*dstRow`.)
void ptrain_bf16_pack_rows(const float *src, ptrdiff_t ld, ptrdiff_t rows, ptrdiff_t k,
                           uint32_t *dst, ptrdiff_t dstRow);

/// Pairs across rows: src is [k, n] (row stride ld); for p < ceil(k/2),
/// j < roundUp(n, 16): word (p, j) = pair(src[2p*ld + j], src[(2p+1)*ld + j]),
/// zero for j >= n, stored at `dst[(j / width)*panelStride + p*width + j % width]`.
/// `width` is a multiple of 16. (B stored [k, n] in 32-column panels; A
/// stored [k, m] as one panel.)
void ptrain_bf16_pack_columns(const float *src, ptrdiff_t ld, ptrdiff_t k, ptrdiff_t n,
                              uint32_t *dst, ptrdiff_t width, ptrdiff_t panelStride);

/// Pairs along rows, transposed: src is [n, k] (row stride ld); word (p, j) =
/// pair(src[j*ld + 2p], src[j*ld + 2p + 1]), zero for j >= n up to
/// roundUp(n, 16), stored like `ptrain_bf16_pack_columns`. (B^T with B
/// stored [n, k].)
void ptrain_bf16_pack_transposed(const float *src, ptrdiff_t ld, ptrdiff_t n, ptrdiff_t k,
                                 uint32_t *dst, ptrdiff_t width, ptrdiff_t panelStride);

/// The micro-kernels, H rows x W columns of C (names ..._HxW):
///   C[i*ldc + j] = alpha * sum_{s < segments} sum_{p < pairs} dot(a(i, s*pairs + p), b_s(p, j))
///                  + beta * C[i*ldc + j]
/// for i < rows (<= H), j < cols (<= W), where a(i, q) = a[i*aRow + q*aPair]
/// (rows >= `rows` are not read) and b_s(p, j) = b[offsets[s] + p*bPair + j]
/// (W words read per pair; `offsets` NULL: one segment at offset 0). The
/// segments are the taps of a convolution over padded planes
/// (PTrainKernels/BF16TapAlgorithm.swift); a plain GEMM has one. Each pair's
/// two products are summed into the fp32 accumulator in one vdpbf16ps, in
/// order of s, then p: the summation order depends on nothing but the
/// shapes. beta == 0 does not read C.
#define PTRAIN_BF16_KERNEL_ARGS ptrdiff_t pairs, ptrdiff_t segments, const ptrdiff_t *offsets, \
    const uint32_t *a, ptrdiff_t aRow, ptrdiff_t aPair, const uint32_t *b, ptrdiff_t bPair, \
    float *c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, float alpha, float beta
void ptrain_bf16_kernel_8x32(PTRAIN_BF16_KERNEL_ARGS);
void ptrain_bf16_kernel_8x16(PTRAIN_BF16_KERNEL_ARGS);
void ptrain_bf16_kernel_4x32(PTRAIN_BF16_KERNEL_ARGS);
void ptrain_bf16_kernel_4x16(PTRAIN_BF16_KERNEL_ARGS);

#endif
