// Inner-product SGEMM kernel for C = alpha * A * B^T + beta * C, used when
// `innerProductsAreCheaper` (GEMM.swift) says so: small m and/or n, long k.
//
// When op(B) is transposed, B is stored [n, k]: each column of op(B) is a
// contiguous row, just like each row of A. The packed path would have to
// transpose all of B (k*n floats) to reuse each element only m times, which
// for the small-m shapes of conv backward-weights (e.g. 6x784 * (25x784)^T)
// costs more than the arithmetic (measured 28 GFLOP/s packed, 64 with this
// kernel). This kernel computes dot products straight from the stored rows: no
// packing at all. Its fixed cost is the reduction (~200 cycles per 4x4 tile),
// so it loses once k is short.
//
// Variant: sgemmDotKernel4x4
//   16 SIMD16<Float> accumulators, acc[i][j] += A[i, p..<p+16] * B[j, p..<p+16]:
//   per 16 k steps, 4 + 4 vector loads feed 16 FMAs (4-cycle latency hidden by
//   16 independent chains). At the end the 16 accumulators are reduced with a
//   16x16 transpose (64 shuffles) and 15 vector adds into one vector whose
//   lane 4i + j is C's tile element (i, j).
//
// Contract:
//   For i < rows, j < cols:
//     C[i*ldc + j] = alpha * sum_{p<k} A[i*lda + p] * B[j*ldb + p] + beta * C[i*ldc + j]
//   - 1 <= rows <= 4, 1 <= cols <= 4; missing rows/columns re-read the last
//     valid one (in bounds) and are not stored.
//   - k >= 16: a ragged k tail is handled with one overlapping load of the last
//     16 floats, the already-counted lanes zeroed in both operands.
//   - beta == 0 writes C without reading it.
//   - `scratch`: 256 floats of workspace memory (not C), overwritten.
// Summation order: 16 interleaved partial sums per element, then a pairwise tree.

/// Transposes the 16x16 floats at `block` in place. Kept out of line on
/// purpose: inlined next to the additions of the reduction, LLVM turns the
/// lane shuffles into scalar inserts (~350 instructions instead of 64 vpermt2ps).
@inline(never)
func transpose16x16InPlace(_ block: UnsafeMutablePointer<Float>) {
    var t = Block16x16(rows: block, stride: 16)
    t.transpose()
    t.store(to: block, stride: 16)
}

/// 4x4 inner-product micro-kernel; see the file header for the contract.
@inline(never)
func sgemmDotKernel4x4(k: Int,
                             a: UnsafePointer<Float>, lda: Int, rows: Int,
                             b: UnsafePointer<Float>, ldb: Int, cols: Int,
                             alpha: Float, beta: Float,
                             c: UnsafeMutablePointer<Float>, ldc: Int,
                             scratch: UnsafeMutablePointer<Float>) {
    typealias V = SIMD16<Float>
    let a0 = UnsafeRawPointer(a)
    let a1 = UnsafeRawPointer(a + min(1, rows - 1) * lda)
    let a2 = UnsafeRawPointer(a + min(2, rows - 1) * lda)
    let a3 = UnsafeRawPointer(a + min(3, rows - 1) * lda)
    let b0 = UnsafeRawPointer(b)
    let b1 = UnsafeRawPointer(b + min(1, cols - 1) * ldb)
    let b2 = UnsafeRawPointer(b + min(2, cols - 1) * ldb)
    let b3 = UnsafeRawPointer(b + min(3, cols - 1) * ldb)
    var c00 = V(), c01 = V(), c02 = V(), c03 = V()
    var c10 = V(), c11 = V(), c12 = V(), c13 = V()
    var c20 = V(), c21 = V(), c22 = V(), c23 = V()
    var c30 = V(), c31 = V(), c32 = V(), c33 = V()

    @inline(__always) func step(_ x0: V, _ x1: V, _ x2: V, _ x3: V,
                                _ y0: V, _ y1: V, _ y2: V, _ y3: V) {
        c00 = c00.addingProduct(x0, y0); c01 = c01.addingProduct(x0, y1)
        c02 = c02.addingProduct(x0, y2); c03 = c03.addingProduct(x0, y3)
        c10 = c10.addingProduct(x1, y0); c11 = c11.addingProduct(x1, y1)
        c12 = c12.addingProduct(x1, y2); c13 = c13.addingProduct(x1, y3)
        c20 = c20.addingProduct(x2, y0); c21 = c21.addingProduct(x2, y1)
        c22 = c22.addingProduct(x2, y2); c23 = c23.addingProduct(x2, y3)
        c30 = c30.addingProduct(x3, y0); c31 = c31.addingProduct(x3, y1)
        c32 = c32.addingProduct(x3, y2); c33 = c33.addingProduct(x3, y3)
    }

    let full = k & ~15
    var off = 0
    while off < full &* MemoryLayout<Float>.stride {
        step(a0.loadUnaligned(fromByteOffset: off, as: V.self), a1.loadUnaligned(fromByteOffset: off, as: V.self),
             a2.loadUnaligned(fromByteOffset: off, as: V.self), a3.loadUnaligned(fromByteOffset: off, as: V.self),
             b0.loadUnaligned(fromByteOffset: off, as: V.self), b1.loadUnaligned(fromByteOffset: off, as: V.self),
             b2.loadUnaligned(fromByteOffset: off, as: V.self), b3.loadUnaligned(fromByteOffset: off, as: V.self))
        off &+= 64
    }
    if full != k {
        // Last 16 floats of each row; the first 16 - (k - full) lanes were counted already.
        let last = (k - 16) * MemoryLayout<Float>.stride
        let counted = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            .< SIMD16<Int32>(repeating: Int32(16 - (k - full)))
        @inline(__always) func tail(_ row: UnsafeRawPointer) -> V {
            row.loadUnaligned(fromByteOffset: last, as: V.self).replacing(with: 0, where: counted)
        }
        step(tail(a0), tail(a1), tail(a2), tail(a3), tail(b0), tail(b1), tail(b2), tail(b3))
    }

    // Horizontal sums: store the 16 accumulators as rows of a 16x16 block,
    // transpose it, and add the rows: lane 4i + j of `dots` = sum of c_ij.
    @inline(__always) func put(_ r: Int, _ v: V) {
        UnsafeMutableRawPointer(scratch + 16 * r).storeBytes(of: v, as: V.self)
    }
    put(0, c00); put(1, c01); put(2, c02); put(3, c03)
    put(4, c10); put(5, c11); put(6, c12); put(7, c13)
    put(8, c20); put(9, c21); put(10, c22); put(11, c23)
    put(12, c30); put(13, c31); put(14, c32); put(15, c33)
    transpose16x16InPlace(scratch)
    @inline(__always) func row(_ r: Int) -> V { UnsafeRawPointer(scratch + 16 * r).loadUnaligned(as: V.self) }
    let sum = (((row(0) + row(1)) + (row(2) + row(3))) + ((row(4) + row(5)) + (row(6) + row(7))))
            + (((row(8) + row(9)) + (row(10) + row(11))) + ((row(12) + row(13)) + (row(14) + row(15))))
    UnsafeMutableRawPointer(scratch).storeBytes(of: sum * alpha, as: V.self)
    let dots = UnsafePointer(scratch)

    var cr = c
    for i in 0..<rows {
        if cols == 4 {
            let v = UnsafeRawPointer(dots + 4 * i).loadUnaligned(as: SIMD4<Float>.self)
            let raw = UnsafeMutableRawPointer(cr)
            if beta == 0 {
                raw.storeBytes(of: v, as: SIMD4<Float>.self)
            } else {
                raw.storeBytes(of: v.addingProduct(beta, raw.loadUnaligned(as: SIMD4<Float>.self)),
                               as: SIMD4<Float>.self)
            }
        } else {
            for j in 0..<cols {
                cr[j] = beta == 0 ? dots[4 * i + j] : dots[4 * i + j] + beta * cr[j]
            }
        }
        cr += ldc
    }
}

/// C[m, n] = alpha * A[m, k] * B[n, k]^T + beta * C, by 4x4 inner-product tiles.
/// Requires k >= 16. Walks tiles row-block by row-block: 4 rows of A stay in
/// L1 while all of B streams past them (from L2 for the layer shapes).
/// `sgemm` picks this path through `innerProductsAreCheaper`.
func sgemmDotProducts(m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                      scratch: UnsafeMutablePointer<Float>) {
    @inline(__always) func tile(_ i: Int, _ j: Int) {
        sgemmDotKernel4x4(k: k, a: a + i * lda, lda: lda, rows: min(4, m - i),
                                b: b + j * ldb, ldb: ldb, cols: min(4, n - j),
                                alpha: alpha, beta: beta, c: c + (i * ldc + j), ldc: ldc,
                                scratch: scratch)
    }
    // The larger operand in the outer loop, so that it streams from memory
    // once while the smaller one is re-read from cache: a dense layer's
    // forward (x [16, 2304] times W [384, 2304]^T) read W four times the
    // other way round. Tiles are independent: the order changes no bit.
    if m < n {
        for j in stride(from: 0, to: n, by: 4) {
            for i in stride(from: 0, to: m, by: 4) { tile(i, j) }
        }
    } else {
        for i in stride(from: 0, to: m, by: 4) {
            for j in stride(from: 0, to: n, by: 4) { tile(i, j) }
        }
    }
}
