// SGEMM micro-kernels: the innermost, register-blocked loop of `sgemm`.
//
// Variants, named op_tile (rows x columns), all one body (`microKernel`)
// specialised by height (rows computed) and width (one or two SIMD16 per
// row). They are portable Swift SIMD16<Float> code: the build's CPU target
// decides the instructions (AVX-512 zmm FMAs for native on this kind of
// machine; pairs of AVX2 ymm FMAs for PTRAIN_TARGET_CPU=x86-64-v3):
//   sgemmKernel8x32  8 rows x 32 columns, 16 SIMD16<Float> accumulators
//   sgemmKernel4x32, sgemmKernel2x32   short row remainders
//   sgemmKernel8x16, 4x16, 2x16               column remainders <= 16
//   sgemmTapKernel8x32, 8x16, 6x32, 6x16, 4x32, 4x16
//                                                   the same, with k steps in
//                                                   tap segments (TapConvolution.swift)
//   sgemmRowsKernel8x32, 8x16, 4x32, 4x16     A unpacked, rows strided
//                                                   (WinogradConvolution.swift)
//   sgemmRowsTapKernel8x32, 8x16, 6x32, ...   both (TapConvolution's
//                                                   weight gradients)
//   (the Tap, Rows and RowsTap variants: GEMMSegmentedMicroKernels.swift)
// The short ones exist because the layer shapes are small: m = 6 or 25 output
// rows would otherwise spend 25% of the FMAs on zero padding.
//
// Why 8x32: Zen 4 has 32 zmm registers and retires one 512-bit FMA per cycle
// (two 256-bit pipes) with 4-cycle latency. 16 accumulators + 2 B vectors fit
// with room to spare, give 16 independent FMA chains (>= 4 needed to hide the
// latency); each k step is 2 vector loads of B + 8 broadcasts of A
// (vbroadcastss from L1) for 16 FMAs. Checked in the disassembly: the loop is
// unrolled twice, all accumulators stay in zmm registers, no spills.
// (Shape measured with a prototype, docs/platform.md; GEMM.swift has the blocking around it.)
//
// Contract (every variant; H = height, NR = width):
//   For i in 0..<rows, j in 0..<NR:
//     C[i*ldc + j] = sum_{p<kc} A[p*8 + i] * B[p*bRowStride + j]  + beta * C[i*ldc + j]
//   - `a`: one packed A micro-panel, p-major, 8 floats per k step. Only the
//     first H of each step are read, so `a + 4` addresses rows 4..<8. Rows in
//     rows..<H are computed but never stored. alpha is already folded in.
//   - `b`: kc rows of NR contiguous floats, row p at `b + p*bRowStride`: either a
//     packed B micro-panel (bRowStride == NR) or the original B (bRowStride == ldb)
//     when the whole NR-wide column block lies inside B. No alignment is required.
//   - `c`: rows x NR floats, row stride `ldc` (units: floats). All NR columns are
//     written; column remainders go through a scratch tile (see GEMM.swift).
//   - `beta == 0`: C is written without being read, so NaN/garbage in C is dropped.
//   - kc >= 1, 1 <= rows <= H.
// The accumulation order over p is sequential (one FMA per p per element), so
// rounding error is that of a plain dot product of length kc.

typealias GEMMVector = SIMD16<Float>

/// Micro-tile height (rows of C per micro-kernel call).
let gemmMR = 8
/// Micro-tile width (columns of C per call of the main kernel); two SIMD16 vectors.
let gemmNR = 32
/// Width of the narrow remainder kernel; one SIMD16 vector.
let gemmNRNarrow = 16

@inline(__always)
private func load(_ p: UnsafeRawPointer, _ byteOffset: Int = 0) -> GEMMVector {
    p.loadUnaligned(fromByteOffset: byteOffset, as: GEMMVector.self)
}

/// `c[0..<16] = v + beta * c[0..<16]`, without reading `c` when beta == 0.
@inline(__always)
private func update(_ c: UnsafeMutablePointer<Float>, _ v: GEMMVector, _ beta: Float) {
    let raw = UnsafeMutableRawPointer(c)
    if beta == 0 {
        raw.storeBytes(of: v, as: GEMMVector.self)
    } else if beta == 1 {
        raw.storeBytes(of: v + load(raw), as: GEMMVector.self)
    } else {
        raw.storeBytes(of: v.addingProduct(beta, load(raw)), as: GEMMVector.self)
    }
}

/// The shared body. `height` (1...8) and `twoVectors` must be compile-time
/// constants at every call (the wrappers below): after inlining, the unused
/// accumulators and branches fold away.
///
/// `taps`: nil for plain GEMM (B row p at `b + p*bRowStride`). Otherwise the
/// k steps come in `tapCount` segments of `kc` each (TapConvolution.swift):
/// segment s reads B rows at `b + taps[s] + p*bRowStride`, and A holds
/// `tapCount * kc` steps. One accumulation chain runs across all segments.
///
/// `aRowStride`: nil for a packed A panel (row i of step p at `a[p*8 + i]`;
/// rows i < height are read). Otherwise A is an unpacked row-major matrix,
/// row i of step p at `a[i*aRowStride + p]`, and only rows i < `rows` are
/// read (the others repeat row 0, computed and not stored): the Winograd
/// GEMMs, whose A is written by a transform and read once, and the weight
/// gradients' dY read in place (packing either would cost about as much as
/// the FMAs).
@inline(__always)
func microKernel(height: Int, twoVectors: Bool, kc: Int,
                         a: UnsafePointer<Float>,
                         b: UnsafePointer<Float>, bRowStride: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int,
                         rows: Int, beta: Float,
                         taps: UnsafePointer<Int>? = nil, tapCount: Int = 1, aRowStride: Int? = nil) {
    var c00 = GEMMVector(), c01 = GEMMVector()
    var c10 = GEMMVector(), c11 = GEMMVector()
    var c20 = GEMMVector(), c21 = GEMMVector()
    var c30 = GEMMVector(), c31 = GEMMVector()
    var c40 = GEMMVector(), c41 = GEMMVector()
    var c50 = GEMMVector(), c51 = GEMMVector()
    var c60 = GEMMVector(), c61 = GEMMVector()
    var c70 = GEMMVector(), c71 = GEMMVector()
    // Packed A: one pointer, rows at constant offsets, stepped by 8 floats.
    // Row-major A: one pointer per row, each stepped by one float (with one
    // base and seven offsets, LLVM's unrolled loop kept 4 x 7 offsets and
    // spilled them: a stack load per FMA, 13% of a Winograd layer's time).
    let packed = aRowStride == nil
    var pa = a
    @inline(__always) func start(_ i: Int) -> UnsafePointer<Float> { a + (i < rows ? i &* (aRowStride ?? 0) : 0) }
    var r0 = a, r1 = start(1), r2 = start(2), r3 = start(3), r4 = start(4), r5 = start(5), r6 = start(6), r7 = start(7)
    @inline(__always) func next(_ r: inout UnsafePointer<Float>, _ i: Int) -> Float {
        if packed { return pa[i] }
        defer { r += 1 }
        return r.pointee
    }
    let bStep = bRowStride &* MemoryLayout<Float>.stride
    for segment in 0..<tapCount {
    var pb = UnsafeRawPointer(b + (taps?[segment] ?? 0))
    var p = 0
    while p < kc {
        let b0 = load(pb)
        let b1 = twoVectors ? load(pb, 64) : GEMMVector()
        var s = next(&r0, 0)
        c00 = c00.addingProduct(s, b0); if twoVectors { c01 = c01.addingProduct(s, b1) }
        if height > 1 {
            s = next(&r1, 1)
            c10 = c10.addingProduct(s, b0); if twoVectors { c11 = c11.addingProduct(s, b1) }
        }
        if height > 2 {
            s = next(&r2, 2)
            c20 = c20.addingProduct(s, b0); if twoVectors { c21 = c21.addingProduct(s, b1) }
            s = next(&r3, 3)
            c30 = c30.addingProduct(s, b0); if twoVectors { c31 = c31.addingProduct(s, b1) }
        }
        if height > 4 {
            s = next(&r4, 4)
            c40 = c40.addingProduct(s, b0); if twoVectors { c41 = c41.addingProduct(s, b1) }
            s = next(&r5, 5)
            c50 = c50.addingProduct(s, b0); if twoVectors { c51 = c51.addingProduct(s, b1) }
        }
        if height > 6 {
            s = next(&r6, 6)
            c60 = c60.addingProduct(s, b0); if twoVectors { c61 = c61.addingProduct(s, b1) }
            s = next(&r7, 7)
            c70 = c70.addingProduct(s, b0); if twoVectors { c71 = c71.addingProduct(s, b1) }
        }
        if packed { pa += gemmMR }
        pb += bStep
        p &+= 1
    }
    }
    @inline(__always) func store(_ row: Int, _ v0: GEMMVector, _ v1: GEMMVector) {
        let cr = c + row * ldc
        update(cr, v0, beta)
        if twoVectors { update(cr + 16, v1, beta) }
    }
    store(0, c00, c01)
    guard height > 1, rows > 1 else { return }
    store(1, c10, c11)
    guard height > 2, rows > 2 else { return }
    store(2, c20, c21)
    guard rows > 3 else { return }
    store(3, c30, c31)
    guard height > 4, rows > 4 else { return }
    store(4, c40, c41)
    guard rows > 5 else { return }
    store(5, c50, c51)
    guard height > 6, rows > 6 else { return }
    store(6, c60, c61)
    guard rows > 7 else { return }
    store(7, c70, c71)
}

/// Runs the variants that cover a `rows` x `width` tile (width 32 or 16) with
/// the fewest padded rows: 7-8 rows -> 8; 5-6 -> 4 + 2; 3-4 -> 4; 1-2 -> 2.
@inline(__always)
func sgemmMicroKernel(rows: Int, width: Int, kc: Int,
                      a: UnsafePointer<Float>,
                      b: UnsafePointer<Float>, bRowStride: Int,
                      c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    if width == gemmNR {
        if rows > 6 {
            sgemmKernel8x32(kc: kc, a: a, b: b, bRowStride: bRowStride, c: c, ldc: ldc, rows: rows, beta: beta)
            return
        }
        if rows > 2 {
            sgemmKernel4x32(kc: kc, a: a, b: b, bRowStride: bRowStride, c: c, ldc: ldc,
                                  rows: min(rows, 4), beta: beta)
        }
        if rows <= 2 || rows > 4 {
            let done = rows > 4 ? 4 : 0
            sgemmKernel2x32(kc: kc, a: a + done, b: b, bRowStride: bRowStride, c: c + done * ldc, ldc: ldc,
                                  rows: rows - done, beta: beta)
        }
    } else {
        if rows > 6 {
            sgemmKernel8x16(kc: kc, a: a, b: b, bRowStride: bRowStride, c: c, ldc: ldc, rows: rows, beta: beta)
            return
        }
        if rows > 2 {
            sgemmKernel4x16(kc: kc, a: a, b: b, bRowStride: bRowStride, c: c, ldc: ldc,
                                  rows: min(rows, 4), beta: beta)
        }
        if rows <= 2 || rows > 4 {
            let done = rows > 4 ? 4 : 0
            sgemmKernel2x16(kc: kc, a: a + done, b: b, bRowStride: bRowStride, c: c + done * ldc, ldc: ldc,
                                  rows: rows - done, beta: beta)
        }
    }
}

@inline(never)
func sgemmKernel8x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 8, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta)
}

@inline(never)
func sgemmKernel8x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 8, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta)
}

@inline(never)
func sgemmKernel4x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 4, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta)
}

@inline(never)
func sgemmKernel4x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 4, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta)
}

@inline(never)
func sgemmKernel2x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 2, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta)
}

@inline(never)
func sgemmKernel2x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 2, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta)
}
