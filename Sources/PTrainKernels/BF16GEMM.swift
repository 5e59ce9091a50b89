import CBF16

// The bf16 GEMM: `C = alpha * op(A) * op(B) + beta * C` with fp32 A, B and C,
// the operands rounded to bf16 (nearest even) as they are packed and every
// product accumulated in fp32 (vdpbf16ps). Same API and blocking scheme as
// `sgemm` (GEMM.swift), but every operand is packed: bf16 words are pairs of
// consecutive k steps (CBF16.h), so neither A nor B can be read in place.
//
//   for jc in 0..<n by NC
//     for pc in 0..<k by KC          (KC even: a block boundary never splits a pair)
//       pack op(B)[pc.., jc..]  -> 32-column panels of pairs, [KC/2][32] words each
//       for ic in 0..<m by MC
//         pack op(A)[ic.., pc..] -> A stored [m, k]: rows of pairs, [MC][KC/2];
//                                   A stored [k, m]: one panel, [KC/2][roundUp(MC, 16)]
//         for jr by 32, ir by 8: micro-kernel 8x32 (8x16, 4x32, 4x16 at edges)
//
// The C micro-kernels and packers live in CBF16 (Swift has no bf16 type and
// cannot emit vdpbf16ps); this file is the driver. The summation order of
// C[i, j] depends only on k and KC: k blocks in order, pairs in order within
// a block. Nothing depends on the worker count.

/// The bf16 packing buffers of a `GEMMWorkspace` whose precision is bf16.
final class BF16PackingBuffers {
    /// Blocking, in rows of op(A), k steps (even) and columns of op(B).
    let mc: Int, kc: Int, nc: Int
    /// `(kc/2) * roundUp(mc, 16)` words: one packed block of op(A).
    let packedA: UnsafeMutablePointer<UInt32>
    /// `roundUp(nc, 32) * kc/2` words: one packed block of op(B).
    let packedB: UnsafeMutablePointer<UInt32>

    /// Default: MC = 128, KC = 256, NC = 2048 like `sgemm`'s, so a B panel
    /// (32 columns x 128 pairs = 16 KiB) stays in L1 and the A block (64 KiB)
    /// in L2.
    init(mc: Int = 128, kc: Int = 256, nc: Int = 2048) {
        precondition(BF16Support.available, "the bf16 GEMM needs AVX512_BF16 (check BF16Support.available first)")
        precondition(mc > 0 && kc > 1 && nc > 0, "bf16 GEMM blocking sizes must be positive, kc >= 2")
        self.mc = mc
        self.kc = kc / 2 * 2
        self.nc = nc
        packedA = Self.allocate(self.kc / 2 * roundUp(mc, 16))
        packedB = Self.allocate(roundUp(nc, gemmNR) * self.kc / 2)
    }

    deinit {
        packedA.deallocate()
        packedB.deallocate()
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<UInt32> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<UInt32>.stride, alignment: 64)
        return raw.initializeMemory(as: UInt32.self, repeating: 0, count: count)
    }
}

@inline(__always)
func roundUp(_ x: Int, _ multiple: Int) -> Int { (x + multiple - 1) / multiple * multiple }

/// `C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n]` computed in
/// the workspace's precision: `sgemm` for fp32, `bf16gemm` for bf16. The
/// entry point of every layer GEMM that `runtime.precision` governs (dense,
/// locally connected, and the pointwise and im2col convolutions).
public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, workspace: GEMMWorkspace) {
    if let buffers = workspace.bf16 {
        bf16gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c, ldc: ldc, buffers: buffers)
    } else {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc, workspace: workspace)
    }
}

/// `sgemm`'s contract (GEMM.swift) with bf16 operands: A and B are rounded
/// to bf16 (nearest even; denormals flushed to zero), products accumulate in
/// fp32, alpha and beta are applied in fp32. Allocates nothing.
func bf16gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, buffers: BF16PackingBuffers) {
    precondition(m >= 0 && n >= 0 && k >= 0, "bf16gemm: negative dimension")
    assert(lda >= (transA ? m : k) && ldb >= (transB ? k : n) && ldc >= n,
           "bf16gemm: leading dimension smaller than the row length")
    guard m > 0, n > 0 else { return }
    if k == 0 || alpha == 0 {
        scaleC(m: m, n: n, beta: beta, c: c, ldc: ldc)
        return
    }
    let packedA = buffers.packedA, packedB = buffers.packedB
    var jc = 0
    while jc < n {
        let nc = min(buffers.nc, n - jc)
        var pc = 0
        while pc < k {
            let kc = min(buffers.kc, k - pc), pairs = (kc + 1) / 2
            let blockBeta: Float = pc == 0 ? beta : 1
            let panelWords = pairs * gemmNR
            if transB {
                ptrain_bf16_pack_transposed(b + (jc * ldb + pc), ldb, nc, kc, packedB, gemmNR, panelWords)
            } else {
                ptrain_bf16_pack_columns(b + (pc * ldb + jc), ldb, kc, nc, packedB, gemmNR, panelWords)
            }
            var ic = 0
            while ic < m {
                let mc = min(buffers.mc, m - ic)
                // Where the micro-kernel finds row i, pair p of the block: packedA[i*aRow + p*aPair].
                let aRow: Int, aPair: Int
                if transA {
                    let width = roundUp(mc, 16)
                    ptrain_bf16_pack_columns(a + (pc * lda + ic), lda, kc, mc, packedA, width, 0)
                    (aRow, aPair) = (1, width)
                } else {
                    ptrain_bf16_pack_rows(a + (ic * lda + pc), lda, mc, kc, packedA, pairs)
                    (aRow, aPair) = (pairs, 1)
                }
                var jr = 0
                while jr < nc {
                    let cols = min(gemmNR, nc - jr)
                    let bp = UnsafePointer(packedB + (jr / gemmNR) * panelWords)
                    var ir = 0
                    while ir < mc {
                        let rows = min(gemmMR, mc - ir)
                        let ap = UnsafePointer(packedA + ir * aRow)
                        let cp = c + ((ic + ir) * ldc + jc + jr)
                        bf16MicroKernel(rows: rows, cols: cols, pairs: pairs, a: ap, aRow: aRow, aPair: aPair,
                                        b: bp, bPair: gemmNR, c: cp, ldc: ldc, alpha: alpha, beta: blockBeta)
                        ir += gemmMR
                    }
                    jr += gemmNR
                }
                ic += buffers.mc
            }
            pc += buffers.kc
        }
        jc += buffers.nc
    }
}

/// The C micro-kernel that covers a `rows` x `cols` tile (rows <= 8, cols
/// <= 32) with the least padding: 8 or 4 rows, 32 or 16 columns (CBF16.h
/// has the contract; `segments` and `offsets` as there).
@inline(__always)
func bf16MicroKernel(rows: Int, cols: Int, pairs: Int, segments: Int = 1, offsets: UnsafePointer<Int>? = nil,
                     a: UnsafePointer<UInt32>, aRow: Int, aPair: Int, b: UnsafePointer<UInt32>, bPair: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float) {
    switch (rows > 4, cols > gemmNRNarrow) {
    case (true, true):
        ptrain_bf16_kernel_8x32(pairs, segments, offsets, a, aRow, aPair, b, bPair, c, ldc, rows, cols, alpha, beta)
    case (true, false):
        ptrain_bf16_kernel_8x16(pairs, segments, offsets, a, aRow, aPair, b, bPair, c, ldc, rows, cols, alpha, beta)
    case (false, true):
        ptrain_bf16_kernel_4x32(pairs, segments, offsets, a, aRow, aPair, b, bPair, c, ldc, rows, cols, alpha, beta)
    case (false, false):
        ptrain_bf16_kernel_4x16(pairs, segments, offsets, a, aRow, aPair, b, bPair, c, ldc, rows, cols, alpha, beta)
    }
}
