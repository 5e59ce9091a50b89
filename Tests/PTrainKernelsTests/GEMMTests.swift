// sgemm against its scalar twin: a plain triple loop accumulated in Double.
//
// Inputs are deterministic pseudo-random values in [-1, 1) (SplitMix64, seeded
// per case), so every failure reproduces. Padding between the logical width
// and the leading dimension of A and B is filled with NaN (reading it would
// poison the result) and C's padding with a sentinel that must survive.
// Tolerance: |C - ref| <= eps32 * (k + 4) * (|alpha| * sum_p |a_ip||b_pj| + |beta * C0_ij|),
// a worst-case bound for float accumulation of length k; a dropped or
// doubled term is off by ~1/k relative and fails it.
// Run with `swift test -c release` (debug SIMD is ~300x slower).

import Testing
import PTrainKernels

// MARK: - Cases

struct Transposes: Sendable, CustomTestStringConvertible {
    let a: Bool, b: Bool
    var testDescription: String { (a ? "T" : "N") + (b ? "T" : "N") }
    static let all = [Transposes(a: false, b: false), Transposes(a: true, b: false),
                      Transposes(a: false, b: true), Transposes(a: true, b: true)]
}

struct Shape: Sendable, CustomTestStringConvertible {
    let m: Int, n: Int, k: Int
    var alpha: Float = 1, beta: Float = 0
    /// Extra floats beyond the minimum leading dimension of A, B and C.
    var pad = 0
    var testDescription: String {
        "m\(m) n\(n) k\(k) alpha \(alpha) beta \(beta)" + (pad > 0 ? " pad \(pad)" : "")
    }
}

let edgeSizes = [1, 3, 7, 8, 9, 31, 32, 33, 64, 65, 127, 257, 300]
let alphas: [Float] = [1, 0.5, -2]
let betas: [Float] = [0, 1, 0.3]

/// Every (m, n) pair of edge sizes; k, alpha, beta and padding rotate so that
/// each value meets many others without a full cross product.
let sizeSweep: [Shape] = {
    var shapes: [Shape] = []
    for (im, m) in edgeSizes.enumerated() {
        for (inn, n) in edgeSizes.enumerated() {
            let i = im * edgeSizes.count + inn
            shapes.append(Shape(m: m, n: n, k: edgeSizes[(im * 5 + inn * 3 + 1) % edgeSizes.count],
                                alpha: alphas[i % 3], beta: betas[(i / 3) % 3],
                                pad: [0, 5, 16, 0][i % 4]))
        }
    }
    return shapes
}()

/// The shapes ptrain's layers call (m x n x k), in their natural variant and all others.
let layerShapes: [Shape] = [
    Shape(m: 6, n: 784, k: 25), Shape(m: 16, n: 100, k: 150), Shape(m: 64, n: 576, k: 75),
    Shape(m: 64, n: 144, k: 1600),                                        // conv forward
    Shape(m: 25, n: 784, k: 6), Shape(m: 150, n: 100, k: 16),             // conv backward-data
    Shape(m: 6, n: 25, k: 784), Shape(m: 64, n: 75, k: 576),              // conv backward-weights
    Shape(m: 64, n: 120, k: 400), Shape(m: 120, n: 400, k: 64),           // dense
    Shape(m: 128, n: 75, k: 4096, beta: 1),                               // several k blocks
]

// MARK: - Reference and checking

/// SplitMix64: tiny, seedable, good enough for test data.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

/// A row-major matrix of `rows x cols` with leading dimension `ld`; padding is `fill`.
func makeMatrix(rows: Int, cols: Int, ld: Int, rng: inout SplitMix64, fill: Float) -> [Float] {
    var x = [Float](repeating: fill, count: max(1, rows * ld))
    for r in 0..<rows { for c in 0..<cols { x[r * ld + c] = rng.nextFloat() } }
    return x
}

/// Runs sgemm on one case (or, with a bf16 workspace, `gemm` in bf16, whose
/// reference multiplies the bf16-rounded operands) and compares with the
/// Double reference; returns a description of the first mismatch, or nil.
func runCase(_ t: Transposes, _ s: Shape, workspace: GEMMWorkspace = GEMMWorkspace(),
             nanC: Bool = false, nanAB: Bool = false) -> String? {
    var rng = SplitMix64(state: UInt64(s.m * 1_000_003 + s.n * 1009 + s.k) &+ (t.a ? 7 : 0) &+ (t.b ? 13 : 0))
    let (rowsA, colsA) = t.a ? (s.k, s.m) : (s.m, s.k)
    let (rowsB, colsB) = t.b ? (s.n, s.k) : (s.k, s.n)
    let lda = colsA + s.pad, ldb = colsB + s.pad, ldc = s.n + s.pad
    let sentinel: Float = 12345
    var a = makeMatrix(rows: rowsA, cols: colsA, ld: lda, rng: &rng, fill: .nan)
    var b = makeMatrix(rows: rowsB, cols: colsB, ld: ldb, rng: &rng, fill: .nan)
    if nanAB { a = a.map { _ in .nan }; b = b.map { _ in .nan } }
    var c = makeMatrix(rows: s.m, cols: s.n, ld: ldc, rng: &rng, fill: sentinel)
    if nanC { for i in 0..<s.m { for j in 0..<s.n { c[i * ldc + j] = .nan } } }
    let c0 = c

    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                let run = workspace.precision == .bf16 ? gemm : sgemm
                run(t.a, t.b, s.m, s.n, s.k, s.alpha, ap.baseAddress!, lda, bp.baseAddress!, ldb,
                    s.beta, cp.baseAddress!, ldc, workspace)
            }
        }
    }

    let eps = Double(Float.ulpOfOne) * Double(s.k + 4)
    let operand: (Float) -> Double = workspace.precision == .bf16 ? { Double(bf16Rounded($0)) } : { Double($0) }
    for i in 0..<s.m {
        for j in 0..<s.n {
            var dot = 0.0, mag = 0.0
            if s.alpha != 0 {
                for p in 0..<s.k {
                    let x = operand(t.a ? a[p * lda + i] : a[i * lda + p])
                    let y = operand(t.b ? b[j * ldb + p] : b[p * ldb + j])
                    dot += x * y
                    mag += abs(x * y)
                }
            }
            let old = s.beta == 0 ? 0 : Double(s.beta) * Double(c0[i * ldc + j])
            let expected = Double(s.alpha) * dot + old
            let tolerance = eps * (abs(Double(s.alpha)) * mag + abs(old)) + 1e-30
            let got = Double(c[i * ldc + j])
            if !(abs(got - expected) <= tolerance) {
                return "C[\(i), \(j)] = \(got), expected \(expected) (tolerance \(tolerance))"
            }
        }
        for j in s.n..<ldc where c[i * ldc + j] != sentinel {
            return "padding C[\(i), \(j)] overwritten with \(c[i * ldc + j])"
        }
    }
    return nil
}

// MARK: - Tests

@Suite("sgemm vs Double reference")
struct GEMMTests {
    @Test("diagonal edge sizes m = n = k", arguments: Transposes.all, edgeSizes)
    func cubes(_ t: Transposes, _ size: Int) {
        let i = edgeSizes.firstIndex(of: size)!
        let shape = Shape(m: size, n: size, k: size, alpha: alphas[i % 3], beta: betas[(i + 1) % 3],
                          pad: i % 2 == 0 ? 0 : 3)
        #expect(runCase(t, shape) == nil)
    }

    @Test("all (m, n) pairs of edge sizes", arguments: Transposes.all, sizeSweep)
    func sweep(_ t: Transposes, _ shape: Shape) {
        #expect(runCase(t, shape) == nil)
    }

    @Test("alpha x beta", arguments: Transposes.all,
          alphas.flatMap { alpha in betas.map { beta in Shape(m: 37, n: 70, k: 45, alpha: alpha, beta: beta, pad: 7) } })
    func alphaBeta(_ t: Transposes, _ shape: Shape) {
        #expect(runCase(t, shape) == nil)
    }

    @Test("layer shapes", arguments: Transposes.all, layerShapes)
    func layers(_ t: Transposes, _ shape: Shape) {
        #expect(runCase(t, shape) == nil)
    }

    @Test("beta = 0 ignores NaN in C", arguments: Transposes.all,
          [Shape(m: 9, n: 33, k: 5), Shape(m: 65, n: 300, k: 257, pad: 1), Shape(m: 6, n: 25, k: 784)])
    func betaZeroDropsNaN(_ t: Transposes, _ shape: Shape) {
        #expect(runCase(t, shape, nanC: true) == nil)
    }

    @Test("k = 0 scales C by beta", arguments: Transposes.all, betas)
    func emptyK(_ t: Transposes, _ beta: Float) {
        #expect(runCase(t, Shape(m: 9, n: 40, k: 0, alpha: 0.5, beta: beta, pad: 2), nanC: beta == 0) == nil)
    }

    @Test("alpha = 0 reads neither A nor B", arguments: betas)
    func alphaZero(_ beta: Float) {
        #expect(runCase(Transposes.all[0], Shape(m: 9, n: 40, k: 7, alpha: 0, beta: beta),
                        nanAB: true) == nil)
    }

    @Test("m = 0 or n = 0 touches nothing",
          arguments: [Shape(m: 0, n: 5, k: 3, beta: 0.3), Shape(m: 4, n: 0, k: 3, beta: 0.3, pad: 4),
                      Shape(m: 0, n: 0, k: 0)])
    func emptyC(_ shape: Shape) {
        for t in Transposes.all { #expect(runCase(t, shape) == nil) }
    }

    /// Tiny blocks make every loop (NC, KC, MC, panel edges) take several
    /// trips; each B packing policy covers both the packed and in-place paths.
    @Test("small blocking, every B packing policy",
          arguments: Transposes.all, [GEMMBPacking.whenTransposed, .always])
    func smallBlocking(_ t: Transposes, _ policy: GEMMBPacking) {
        let workspace = GEMMWorkspace(mc: 16, kc: 24, nc: 64, bPacking: policy)
        for shape in [Shape(m: 65, n: 300, k: 257, alpha: -2, beta: 0.3, pad: 3),
                      Shape(m: 16, n: 64, k: 24), Shape(m: 17, n: 65, k: 25, beta: 1),
                      Shape(m: 7, n: 48, k: 50, alpha: 0.5), Shape(m: 40, n: 16, k: 100, pad: 1)] {
            #expect(runCase(t, shape, workspace: workspace) == nil, "\(shape)")
        }
    }

    /// A * B^T has two implementations (packed, and unpacked inner products
    /// chosen by a cost estimate); force each over ragged m, n and k.
    @Test("A * B^T through each path", arguments: [GEMMDotProducts.always, .never, .automatic],
          [Shape(m: 1, n: 1, k: 16), Shape(m: 3, n: 5, k: 17, beta: 1), Shape(m: 4, n: 4, k: 31, pad: 2),
           Shape(m: 9, n: 7, k: 100, alpha: -2, beta: 0.3), Shape(m: 6, n: 25, k: 784),
           Shape(m: 33, n: 65, k: 257, alpha: 0.5, pad: 5), Shape(m: 2, n: 3, k: 15)])
    func innerProducts(_ policy: GEMMDotProducts, _ shape: Shape) {
        let workspace = GEMMWorkspace(mc: 128, kc: 256, nc: 2048, dotProducts: policy)
        #expect(runCase(Transposes(a: false, b: true), shape, workspace: workspace) == nil)
        #expect(runCase(Transposes(a: false, b: true), shape, workspace: workspace, nanC: shape.beta == 0) == nil)
    }

    @Test("one workspace reused across shapes")
    func workspaceReuse() {
        let workspace = GEMMWorkspace()
        let shapes = [Shape(m: 300, n: 257, k: 300, beta: 1), Shape(m: 3, n: 7, k: 1),
                      Shape(m: 127, n: 33, k: 65, alpha: 0.5), Shape(m: 1, n: 1, k: 300),
                      Shape(m: 64, n: 144, k: 1600)]
        for t in Transposes.all {
            for shape in shapes { #expect(runCase(t, shape, workspace: workspace) == nil, "\(t) \(shape)") }
        }
    }
}

/// Only sanity: the rate itself depends on the machine and build mode (a debug
/// build runs the chains ~100x slower); gemm-bench prints the real figure.
@Test("peak probe reports a plausible rate")
func peakProbe() {
    let gflops = measurePeakGFLOPs(seconds: 0.05)
    #expect(gflops > 0 && gflops < 10_000)
}

@Test("transposeMatrix is an exact transpose: whole 16x16 blocks, ragged right and bottom edges, and matrices narrower than a block",
      arguments: [(16, 16), (37, 300), (300, 37), (5, 3), (1, 17), (33, 48)])
func matrixTranspose(_ shape: (rows: Int, cols: Int)) {
    let (rows, cols) = shape
    let src = (0..<(rows * cols)).map { Float($0) * 0.5 - 7 }
    var dst = [Float](repeating: .nan, count: rows * cols)
    src.withUnsafeBufferPointer { s in
        dst.withUnsafeMutableBufferPointer { transposeMatrix(s.baseAddress!, rows: rows, cols: cols, into: $0.baseAddress!) }
    }
    var wrong = 0
    for r in 0..<rows {
        for c in 0..<cols where dst[c * rows + r] != src[r * cols + c] { wrong += 1 }
    }
    #expect(wrong == 0, "\(wrong) of \(rows * cols) values misplaced")
}
