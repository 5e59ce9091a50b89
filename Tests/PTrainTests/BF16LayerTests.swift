// The bf16 path of the GEMM layers against their fp32 path: forward output,
// input gradient and parameter gradients agree to bf16 accuracy. The fp32
// path is checked against finite differences elsewhere (LayerGradientTests),
// so agreement here checks the bf16 forward and backward.
//
// Measure: the normwise relative error ||bf16 - fp32|| / ||fp32||. bf16
// keeps 8 significant bits (unit roundoff 2^-9 ~ 0.2%); with fp32
// accumulation the products' errors stay of that order, so the bound is
// 1%. A swapped operand, a missed pair or a wrong transpose is off by
// O(100%); an unrounded (fp32) run is off by ~0, which the lower bound
// rejects: the bf16 path must really have run.
import Testing
import PTrain
import PTrainKernels

/// y, dx and the parameter gradients of one forward and backward of `layer`
/// on `batch` samples in `precision` (same inputs and weights every call).
func runLayer(_ layer: any Layer, batch: Int, precision: ComputePrecision) -> [String: [Float]] {
    (layer as? PrecisionSelectable)?.precision = precision
    let context = StepContext(seed: 3, maxBatch: batch, precision: precision)
    context.scratch.reserve(layer.scratchFloats(maxBatch: batch))
    layer.allocate(maxBatch: batch)
    let specs = layer.parameterSpecs
    let params = specs.enumerated().map { i, s in testValues(s.count, seed: 100 + UInt64(i)).map { $0 * 0.5 } }
    let pPtrs = params.map { v -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(v.count, 1)); p.initialize(from: v, count: v.count); return p
    }
    let gPtrs = specs.map { s -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(s.count, 1)); p.initialize(repeating: 0, count: max(s.count, 1)); return p
    }
    defer { pPtrs.forEach { $0.deallocate() }; gPtrs.forEach { $0.deallocate() } }
    layer.bind(parameters: pPtrs, gradients: gPtrs)
    let x = testValues(batch * layer.inputShape.count, seed: 7)
    let dy = testValues(batch * layer.outputShape.count, seed: 8)
    var y = [Float](repeating: 0, count: batch * layer.outputShape.count)
    var dx = [Float](repeating: 0, count: batch * layer.inputShape.count)
    x.withUnsafeBufferPointer { xs in
        y.withUnsafeMutableBufferPointer { layer.forward(xs.baseAddress!, $0.baseAddress!, batch: batch, context: context) }
        y.withUnsafeBufferPointer { ys in dy.withUnsafeBufferPointer { dys in dx.withUnsafeMutableBufferPointer {
            layer.backward(xs.baseAddress!, ys.baseAddress!, dys.baseAddress!, $0.baseAddress!, batch: batch, context: context)
        } } }
    }
    var out = ["y": y, "dx": dx]
    for (i, s) in specs.enumerated() { out["d" + s.name] = Array(UnsafeBufferPointer(start: gPtrs[i], count: s.count)) }
    return out
}

/// ||a - b|| / ||b||.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    let diff = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    let norm = b.reduce(0.0) { $0 + Double($1) * Double($1) }
    return (diff / max(norm, 1e-300)).squareRoot()
}

@Suite("bf16 layers vs fp32", .enabled(if: BF16Support.available, "this CPU lacks AVX512_BF16"))
struct BF16LayerTests {
    /// Each layer is built twice (a layer plans its algorithms once).
    static let layers: [(String, @Sendable () -> any Layer)] = [
        ("conv 3x3 pad 1 (bf16 taps)", { Conv2D(name: "c", input: TensorShape(16, 9, 11), filters: 20, kernel: (3, 3), padding: (1, 1)) }),
        ("conv 3x3 stride 2 (polyphase taps; im2col input gradient)", { Conv2D(name: "c", input: TensorShape(5, 12, 12), filters: 7, kernel: (3, 3), stride: (2, 2), padding: (1, 1)) }),
        ("conv 1x1 (pointwise)", { Conv2D(name: "c", input: TensorShape(17, 6, 6), filters: 9, kernel: (1, 1)) }),
        ("conv 5x5 groups 2", { Conv2D(name: "c", input: TensorShape(6, 10, 10), filters: 4, kernel: (5, 5), padding: (2, 2), groups: 2) }),
        ("conv 5x5 valid (tap input gradient padded by 4)", { Conv2D(name: "c", input: TensorShape(7, 10, 10), filters: 9, kernel: (5, 5)) }),
        ("conv 3x3 on 16 wide (taps skip junk)", { Conv2D(name: "c", input: TensorShape(4, 16, 16), filters: 8, kernel: (3, 3), padding: (1, 1)) }),
        ("conv1d", { Conv1D(name: "c", input: TensorShape(6, 1, 30), filters: 5, kernel: 3, padding: 1) }),
        ("dense", { Dense(name: "d", input: TensorShape(3, 5, 7), units: 37) }),
    ]

    @Test("forward, input and parameter gradients within bf16 accuracy", arguments: 0..<8)
    func agreesWithFP32(_ index: Int) {
        let (name, make) = Self.layers[index]
        let fp32 = runLayer(make(), batch: 3, precision: .fp32)
        let bf16 = runLayer(make(), batch: 3, precision: .bf16)
        #expect(Set(fp32.keys) == Set(bf16.keys) && fp32.count >= 3)
        for (key, reference) in fp32 {
            if key == "dbias" {   // a sum of dy, no GEMM: the same bits in both
                #expect(bf16[key]! == reference, "\(name) dbias")
                continue
            }
            let error = relativeError(bf16[key]!, reference)
            #expect(error < 1e-2 && error > 1e-6, "\(name) \(key): relative error \(error)")
        }
    }

    @Test("bf16 convolutions choose algorithms with a bf16 path, or Winograd's fp32 tiles where they apply")
    func choices() {
        func shape(channels: Int, stride: Int) -> ConvolutionShape {
            ConvolutionShape(geometry: WindowGeometry(channels: channels, height: 8, width: 8, kernelH: 3, kernelW: 3,
                                                      strideH: stride, strideW: stride, padH: 1, padW: 1, dilationH: 1, dilationW: 1),
                             outputs: 16, groups: 1)
        }
        let winograd = shape(channels: 16, stride: 1)
        for pass in ConvolutionPass.allCases {
            #expect(ObjectIdentifier(ConvolutionChoice.choose(winograd, pass, precision: .bf16)) == ObjectIdentifier(WinogradAlgorithm.self))
            #expect(ObjectIdentifier(ConvolutionChoice.choose(winograd, pass)) == ObjectIdentifier(WinogradAlgorithm.self))
            // `algorithm: direct` rules the tiles out: the bf16 taps.
            #expect(ObjectIdentifier(ConvolutionChoice.choose(winograd, pass, winograd: false, precision: .bf16))
                    == ObjectIdentifier(BF16TapAlgorithm.self))
        }
        // 8 channels (not whole 16-channel vectors): no Winograd, bf16 taps forward.
        #expect(ObjectIdentifier(ConvolutionChoice.choose(shape(channels: 8, stride: 1), .forward, precision: .bf16))
                == ObjectIdentifier(BF16TapAlgorithm.self))
        #expect(ObjectIdentifier(ConvolutionChoice.choose(shape(channels: 16, stride: 2), .forward, precision: .bf16))
                == ObjectIdentifier(BF16TapAlgorithm.self))
    }
}
