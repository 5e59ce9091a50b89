import Foundation
import PTrain
import PTrainKernels
import PTrainReporting
import PTrainRuntime

/// Single-thread GEMM throughput (fp32, or bf16 operands) at the shapes
/// ptrain's layers produce, against the fp32 FMA peak measured in the same
/// run (`ptrain bench-gemm`; bf16's vdpbf16ps peak is twice that).
public enum GEMMBenchmark {
    public struct Shape: Sendable {
        public let label: String
        public let m: Int, k: Int, n: Int
        public let transA: Bool, transB: Bool
        public var variant: String { (transA ? "T" : "N") + (transB ? "T" : "N") }
    }

    public struct Result: Sendable {
        public let shape: Shape
        /// Median GFLOP/s over the repetitions.
        public let gflops: Double
    }

    /// Big square-ish shapes, then the GEMMs of the W1/W2 conv and dense layers
    /// (forward NN; backward-data TN; backward-weights NT).
    public static let defaultShapes: [Shape] = [
        .init(label: "square", m: 512, k: 512, n: 512, transA: false, transB: false),
        .init(label: "square", m: 512, k: 512, n: 512, transA: true, transB: false),
        .init(label: "square", m: 512, k: 512, n: 512, transA: false, transB: true),
        .init(label: "square", m: 512, k: 512, n: 512, transA: true, transB: true),
        .init(label: "conv fwd", m: 64, k: 1600, n: 576, transA: false, transB: false),
        .init(label: "conv fwd", m: 256, k: 2304, n: 384, transA: false, transB: false),
        .init(label: "W1 conv1 fwd", m: 6, k: 25, n: 784, transA: false, transB: false),
        .init(label: "W1 conv2 fwd", m: 16, k: 150, n: 100, transA: false, transB: false),
        .init(label: "W2 conv1 fwd", m: 64, k: 75, n: 576, transA: false, transB: false),
        .init(label: "W2 conv2 fwd", m: 64, k: 1600, n: 144, transA: false, transB: false),
        .init(label: "W2 conv2 bwd-data", m: 1600, k: 64, n: 144, transA: true, transB: false),
        .init(label: "W2 conv2 bwd-weights", m: 64, k: 144, n: 1600, transA: false, transB: true),
        .init(label: "W1 fc1 fwd", m: 64, k: 400, n: 120, transA: false, transB: true),
        .init(label: "W1 fc1 bwd-weights", m: 120, k: 64, n: 400, transA: true, transB: false),
        // W2's fc1 (2304 -> 384) on a shard of 32: the 3.5 MB weight matrix
        // is streamed by every pass.
        .init(label: "W2 fc1 fwd", m: 32, k: 2304, n: 384, transA: false, transB: true),
        .init(label: "W2 fc1 bwd-data", m: 32, k: 384, n: 2304, transA: false, transB: false),
        .init(label: "W2 fc1 bwd-weights", m: 384, k: 32, n: 2304, transA: true, transB: false),
        // W3 (ResNet-20) stage 1: 16 channels at 32x32, one image per GEMM.
        .init(label: "W3 stage1 fwd", m: 16, k: 144, n: 1024, transA: false, transB: false),
        .init(label: "W3 stage1 bwd-data", m: 144, k: 16, n: 1024, transA: true, transB: false),
        .init(label: "W3 stage1 bwd-weights", m: 16, k: 1024, n: 144, transA: false, transB: true),
        // W3 stage 3: 64 channels at 8x8, three images per GEMM.
        .init(label: "W3 stage3 fwd", m: 64, k: 576, n: 192, transA: false, transB: false),
        .init(label: "W3 stage3 bwd-weights", m: 64, k: 192, n: 576, transA: false, transB: true),
        // W4 (AlexNet, ImageNet) fc6 on a shard of 16: 151 MB of weights, DRAM-bound.
        .init(label: "W4 fc6 fwd", m: 16, k: 9216, n: 4096, transA: false, transB: true),
        .init(label: "W4 fc6 bwd-data", m: 16, k: 4096, n: 9216, transA: false, transB: false),
        .init(label: "W4 fc6 bwd-weights", m: 4096, k: 16, n: 9216, transA: true, transB: false),
    ]

    /// `precision` bf16: the bf16 GEMM (`gemm` in a bf16 workspace; needs
    /// `BF16Support.available`).
    public static func run(_ shapes: [Shape], repetitions: Int, precision: ComputePrecision = .fp32) -> [Result] {
        let workspace = GEMMWorkspace(precision: precision)
        return shapes.map { s in
            let a = UnsafeMutablePointer<Float>.allocate(capacity: s.m * s.k)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: s.k * s.n)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: s.m * s.n)
            defer { a.deallocate(); b.deallocate(); c.deallocate() }
            for i in 0..<(s.m * s.k) { a[i] = Float(i % 7) * 0.1 - 0.3 }
            for i in 0..<(s.k * s.n) { b[i] = Float(i % 5) * 0.1 - 0.2 }
            let lda = s.transA ? s.m : s.k, ldb = s.transB ? s.k : s.n
            func call() {
                gemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1, a: a, lda: lda,
                      b: b, ldb: ldb, beta: 0, c: c, ldc: s.n, workspace: workspace)
            }
            // Calls per repetition so that one repetition takes >= 40 ms.
            var calls = 1
            while true {
                let t0 = monotonicSeconds()
                for _ in 0..<calls { call() }
                if monotonicSeconds() - t0 > 0.04 { break }
                calls *= 2
            }
            let flop = 2 * Double(s.m) * Double(s.n) * Double(s.k) * Double(calls)
            let rates = (0..<repetitions).map { _ -> Double in
                let t0 = monotonicSeconds()
                for _ in 0..<calls { call() }
                return flop / (monotonicSeconds() - t0) / 1e9
            }
            return Result(shape: s, gflops: median(rates))
        }
    }
}
