// Single-precision GEMM on row-major matrices.
//
// PLACEHOLDER implementation (straightforward loops); the packed, cache-blocked
// version replaces the body of `sgemm` without changing its contract.

/// Scratch memory for packing panels of A and B. Allocated once per worker
/// (never inside a training step); not thread-safe: one workspace per thread.
public final class GEMMWorkspace: @unchecked Sendable {
    public init() {}
}

/// `C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n]`, row-major.
///
/// - `op(A)` is `A` (`[m, k]`, row stride `lda`) or, with `transA`, `A^T`
///   where `A` is stored `[k, m]` with row stride `lda`.
/// - `op(B)` is `B` (`[k, n]`, stride `ldb`) or, with `transB`, `B^T` where `B`
///   is stored `[n, k]` with stride `ldb`.
/// - `beta == 0` overwrites C without reading it (NaNs in C are not propagated).
/// - Any of m, n, k may be 0 (k == 0 scales C by beta).
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  alpha: Float,
                  a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float,
                  c: UnsafeMutablePointer<Float>, ldc: Int,
                  workspace: GEMMWorkspace) {
    for i in 0..<m {
        let crow = c + i * ldc
        if beta == 0 { for j in 0..<n { crow[j] = 0 } } else if beta != 1 { for j in 0..<n { crow[j] *= beta } }
        for p in 0..<k {
            let aip = alpha * (transA ? a[p * lda + i] : a[i * lda + p])
            if transB {
                for j in 0..<n { crow[j] += aip * b[j * ldb + p] }
            } else {
                let brow = b + p * ldb
                for j in 0..<n { crow[j] += aip * brow[j] }
            }
        }
    }
}
