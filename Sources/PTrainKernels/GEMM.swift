// Single-precision GEMM on row-major matrices: API, workspace and blocking.
//
// Structure (BLIS / GotoBLAS), from the outside in:
//
//   for jc in 0..<n by NC            columns of C and op(B)
//     for pc in 0..<k by KC          k blocks; the first applies beta, later ones add
//       pack op(B)[pc.., jc..]       -> kc x nc, 32-column panels   (GEMMPacking.swift;
//                                       only if transposed, see below)
//       for ic in 0..<m by MC
//         pack alpha*op(A)[ic.., pc..] -> mc x kc, 8-row panels     (GEMMPacking.swift)
//         for jr in 0..<nc by 32     macro-kernel: one B micro-panel (kc x 32) is
//           for ir in 0..<mc by 8    reused by every 8-row A panel of the block (L2)
//             micro-kernel 8x32 (4/2 rows, 16 columns for remainders) (GEMMMicroKernel.swift)
//
// B in place: when op(B) is not transposed, the micro-kernel reads full 32-
// (or 16-) column blocks of B where they are (row stride ldb) and only a ragged
// last panel is packed. Measured on Zen 4 this is as fast as or faster than
// packing for every shape tried, large ones included (512^3 with ldb = 512,
// whose rows alias in L1, still runs from L2 at full speed: the kernel needs
// only 128 bytes of B per 16 FMA cycles), and it removes the packing cost that
// dominates small-m shapes such as 6x25x784.
// A * B^T: when a cost estimate favours it (small m or n, long k), inner
// products straight from the stored rows instead: see GEMMDotKernel.swift.
// Column remainders that fit neither width are computed into a scratch tile and
// merged with scalar code; row remainders are zero-padded in packed A and not
// stored.

/// Scratch memory for packing panels of A and B. Allocated once per worker
/// (never inside a training step); not thread-safe: one workspace per thread.
///
/// Holds `roundUp(MC, 8) * KC` floats of packed A (128 KiB by default, meant
/// for L2), `KC * roundUp(NC, 32)` floats of packed B (2 MiB, L3) and a
/// 256-float scratch tile (column remainders, inner-product reductions), all
/// 64-byte aligned. `sgemm` never allocates.
public final class GEMMWorkspace: @unchecked Sendable {
    /// Rows of op(A) packed per block (multiple of the micro-tile height 8).
    package let mc: Int
    /// Depth of one k block: the micro-kernel's loop length.
    package let kc: Int
    /// Columns of op(B) packed per block (multiple of the micro-tile width 32).
    package let nc: Int
    /// Whether a non-transposed B may be read in place (see file header).
    package let bPacking: GEMMBPacking
    /// Whether A * B^T may use the unpacked inner-product kernel (GEMMDotKernel.swift).
    package let dotProducts: GEMMDotProducts

    let packedA: UnsafeMutablePointer<Float>
    let packedB: UnsafeMutablePointer<Float>
    let edgeTile: UnsafeMutablePointer<Float>
    /// The precision `gemm` computes in (BF16GEMM.swift); `sgemm` is fp32 regardless.
    public let precision: ComputePrecision
    /// bf16 packing buffers (~1.1 MiB), only in a bf16 workspace.
    let bf16: BF16PackingBuffers?

    /// Default blocking for Zen 4 (32 KiB L1D, 1 MiB L2): MC = 128, KC = 256
    /// (a prototype's measured shape, docs/platform.md; 192...512 and MC 64...256 measured within
    /// noise of it), NC = 2048.
    /// `precision: .bf16` needs `BF16Support.available`.
    public convenience init(precision: ComputePrecision = .fp32) {
        self.init(mc: 128, kc: 256, nc: 2048, precision: precision)
    }

    /// Custom blocking, for tests (tiny blocks exercise every loop edge) and tuning.
    /// `mc` is rounded up to a multiple of 8 and `nc` to a multiple of 32.
    /// With bf16, `mc`, `kc` (made even) and `nc` block the bf16 GEMM as well.
    package init(mc: Int, kc: Int, nc: Int, bPacking: GEMMBPacking = .whenTransposed,
                 dotProducts: GEMMDotProducts = .automatic, precision: ComputePrecision = .fp32) {
        precondition(mc > 0 && kc > 0 && nc > 0, "GEMM blocking sizes must be positive")
        self.mc = (mc + gemmMR - 1) / gemmMR * gemmMR
        self.kc = kc
        self.nc = (nc + gemmNR - 1) / gemmNR * gemmNR
        self.bPacking = bPacking
        self.dotProducts = dotProducts
        packedA = Self.allocate(self.mc * kc)
        packedB = Self.allocate(kc * self.nc)
        edgeTile = Self.allocate(gemmMR * gemmNR)
        self.precision = precision
        bf16 = precision == .bf16 ? BF16PackingBuffers(mc: mc, kc: max(kc, 2), nc: nc) : nil
    }

    deinit {
        packedA.deallocate()
        packedB.deallocate()
        edgeTile.deallocate()
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride,
                                                   alignment: 64)
        return raw.initializeMemory(as: Float.self, repeating: 0, count: count)
    }
}

/// When `sgemm` packs op(B) (see the file header of GEMM.swift).
package enum GEMMBPacking: Sendable {
    /// Pack op(B) only when it is transposed; read a non-transposed B in place.
    case whenTransposed
    /// Always pack op(B) (for tests and tuning).
    case always
}

/// When `sgemm` computes A * B^T (transB, not transA) by inner products.
package enum GEMMDotProducts: Sendable {
    /// When estimated cheaper (`innerProductsAreCheaper`) and k >= 16.
    case automatic
    /// Never: always the packed path.
    case never
    /// Whenever possible (not transA, transB, k >= 16).
    case always
}

/// `C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n]`, row-major.
///
/// - `op(A)` is `A` (`[m, k]`, row stride `lda`) or, with `transA`, `A^T`
///   where `A` is stored `[k, m]` with row stride `lda`.
/// - `op(B)` is `B` (`[k, n]`, stride `ldb`) or, with `transB`, `B^T` where `B`
///   is stored `[n, k]` with stride `ldb`.
/// - `beta == 0` overwrites C without reading it (NaNs in C are not propagated).
/// - Any of m, n, k may be 0 (k == 0 scales C by beta). With `alpha == 0`,
///   A and B are not read.
/// - Only `C[i, j]` for `i < m`, `j < n` is written; padding up to `ldc` is untouched.
/// - Runs on the calling thread; allocates nothing; uses `workspace` exclusively.
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  alpha: Float,
                  a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float,
                  c: UnsafeMutablePointer<Float>, ldc: Int,
                  workspace: GEMMWorkspace) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension")
    assert(lda >= (transA ? m : k) && ldb >= (transB ? k : n) && ldc >= n,
           "sgemm: leading dimension smaller than the row length")
    guard m > 0, n > 0 else { return }
    if k == 0 || alpha == 0 {
        scaleC(m: m, n: n, beta: beta, c: c, ldc: ldc)
        return
    }
    if !transA && transB && k >= 16 {
        let useDots: Bool
        switch workspace.dotProducts {
        case .automatic: useDots = innerProductsAreCheaper(m: m, n: n, k: k)
        case .never: useDots = false
        case .always: useDots = true
        }
        if useDots {
            sgemmDotProducts(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                             beta: beta, c: c, ldc: ldc, scratch: workspace.edgeTile)
            return
        }
    }
    let blockM = workspace.mc, blockK = workspace.kc, blockN = workspace.nc
    let packedA = workspace.packedA, packedB = workspace.packedB
    let edgeTile = workspace.edgeTile
    let readBInPlace = !transB && workspace.bPacking == .whenTransposed

    var jc = 0
    while jc < n {
        let nc = min(blockN, n - jc)
        var pc = 0
        while pc < k {
            let kc = min(blockK, k - pc)
            let blockBeta: Float = pc == 0 ? beta : 1
            let bPanels: BPanels
            if readBInPlace {
                // Only a ragged last panel (not 16 or 32 wide) needs packing.
                let last = nc % gemmNR
                let lastStart = nc - last
                if last != 0 && last != gemmNRNarrow {
                    packB(transB: false, b: b, ldb: ldb, p0: pc, j0: jc + lastStart,
                          kc: kc, nc: last, into: packedB)
                }
                bPanels = BPanels(inPlace: b + (pc * ldb + jc), ldb: ldb, packedLast: packedB)
            } else {
                packB(transB: transB, b: b, ldb: ldb, p0: pc, j0: jc, kc: kc, nc: nc, into: packedB)
                bPanels = BPanels(packed: packedB)
            }
            var ic = 0
            while ic < m {
                let mc = min(blockM, m - ic)
                packA(transA: transA, a: a, lda: lda, i0: ic, p0: pc, mc: mc, kc: kc,
                      alpha: alpha, into: packedA)
                macroKernel(mc: mc, nc: nc, kc: kc, packedA: packedA, bPanels: bPanels,
                            c: c + (ic * ldc + jc), ldc: ldc, beta: blockBeta,
                            edgeTile: edgeTile)
                ic += blockM
            }
            pc += blockK
        }
        jc += blockN
    }
}

/// Chooses between the two ways of computing A * B^T by estimated cycles.
///
/// Inner products (GEMMDotKernel.swift): per 4x4 tile, ceil(k/16) steps of 16
/// FMAs plus ~200 cycles to reduce and store. Packed path: per 8-row panel, 16
/// (or 8 for a narrow remainder) FMA cycles per k step and 32-column panel,
/// plus transposing B (~0.5 cycle per float) and packing A (~0.3). Constants
/// fitted to measurements on Zen 4 (6x784x25: 64 vs 28 GFLOP/s in favour of
/// inner products; 16x100x150: 43 vs 67 and 64x144x1600: 56 vs 96 the other way).
func innerProductsAreCheaper(m: Int, n: Int, k: Int) -> Bool {
    let kSteps = (k + 15) / 16
    let innerCycles = ((m + 3) / 4) * ((n + 3) / 4) * (kSteps * 16 + 200)
    let wide = n / gemmNR, rest = n % gemmNR
    let restCycles = rest == 0 ? 0 : (rest > gemmNRNarrow ? 16 : 8)
    let packedCompute = ((m + gemmMR - 1) / gemmMR) * k * (wide * 16 + restCycles)
    let packedCycles = packedCompute + packedCompute / 8 + (k * n) / 2 + (3 * m * k) / 10
    return innerCycles < packedCycles
}

/// Where the macro-kernel finds B micro-panel `q` (columns `32q ..< 32q + 32`
/// of the current nc block) for the current k block.
struct BPanels {
    /// Packed panels (layout of `packB`), or nil when B is read in place.
    let packed: UnsafePointer<Float>?
    /// `op(B)[pc, jc]` in the original B (row stride `ldb`) when read in place.
    let inPlace: UnsafePointer<Float>?
    let ldb: Int
    /// In-place mode: the ragged last panel, packed at offset 0.
    let packedLast: UnsafePointer<Float>?

    init(packed: UnsafeMutablePointer<Float>) {
        self.packed = UnsafePointer(packed); inPlace = nil; ldb = 0; packedLast = nil
    }

    init(inPlace: UnsafePointer<Float>, ldb: Int, packedLast: UnsafeMutablePointer<Float>) {
        packed = nil; self.inPlace = inPlace; self.ldb = ldb
        self.packedLast = UnsafePointer(packedLast)
    }
}

/// C block `[mc, nc]` (row stride ldc) = packed A block `[mc, kc]` x B block
/// `[kc, nc]` + beta * C block. Walks 32-column B panels (outer) and 8-row A
/// panels (inner), calling the micro-kernel for each 8x32 tile.
@inline(__always)
private func macroKernel(mc: Int, nc: Int, kc: Int,
                         packedA: UnsafeMutablePointer<Float>, bPanels: BPanels,
                         c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float,
                         edgeTile: UnsafeMutablePointer<Float>) {
    let mr = gemmMR, nr = gemmNR
    var jr = 0
    while jr < nc {
        let cols = min(nr, nc - jr)
        let width = packedPanelWidth(columns: cols)
        let bp: UnsafePointer<Float>
        let bRowStride: Int
        if let packed = bPanels.packed {
            bp = packed + (jr / nr) * kc * nr
            bRowStride = width
        } else if cols == width {
            bp = bPanels.inPlace! + jr
            bRowStride = bPanels.ldb
        } else {
            bp = bPanels.packedLast!
            bRowStride = width
        }
        var ir = 0
        while ir < mc {
            let rows = min(mr, mc - ir)
            let ap = UnsafePointer(packedA + (ir / mr) * kc * mr)
            let cp = c + (ir * ldc + jr)
            if cols == width {
                sgemmMicroKernel(rows: rows, width: width, kc: kc, a: ap, b: bp, bRowStride: bRowStride,
                                 c: cp, ldc: ldc, beta: beta)
            } else {
                // Ragged column remainder: full-width tile into scratch, then merge.
                sgemmMicroKernel(rows: rows, width: width, kc: kc, a: ap, b: bp, bRowStride: bRowStride,
                                 c: edgeTile, ldc: width, beta: 0)
                mergeTile(edgeTile, ldt: width, rows: rows, cols: cols, into: cp, ldc: ldc, beta: beta)
            }
            ir += mr
        }
        jr += nr
    }
}

/// `C[rows, cols] = tile + beta * C`, not reading C when beta == 0.
@inline(__always)
private func mergeTile(_ tile: UnsafeMutablePointer<Float>, ldt: Int, rows: Int, cols: Int,
                       into c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    for i in 0..<rows {
        let t = tile + i * ldt, cr = c + i * ldc
        if beta == 0 {
            for j in 0..<cols { cr[j] = t[j] }
        } else {
            for j in 0..<cols { cr[j] = t[j] + beta * cr[j] }
        }
    }
}

/// `C[m, n] *= beta`; beta == 0 writes zeros without reading C.
func scaleC(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if beta == 1 { return }
    for i in 0..<m {
        let row = c + i * ldc
        if beta == 0 {
            row.update(repeating: 0, count: n)
        } else {
            for j in 0..<n { row[j] *= beta }
        }
    }
}
