import Testing
import PTrain
import Foundation

// Every layer's backward (input and parameter gradients) against central
// finite differences of sum(y * r), over several shapes including tiny ones.

@Test("dense", arguments: [(1, 1, 1), (3, 7, 5), (4, 33, 10), (2, 64, 17)])
func denseGradients(_ s: (Int, Int, Int)) {
    let (batch, inputs, units) = s
    for bias in [true, false] {
        let layer = Dense(name: "fc", input: TensorShape(inputs), units: units, bias: bias)
        let r = gradientCheck(layer, batch: batch)
        #expect(r.checked > 0)
        #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
    }
}

/// (batch, channels, height, width, filters, kernel, stride, padding, groups)
let convCases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (1, 1, 1, 1, 1, 1, 1, 0, 1), (2, 1, 5, 5, 2, 3, 1, 0, 1), (2, 3, 7, 6, 4, 3, 2, 1, 1),
    (1, 2, 8, 8, 3, 5, 1, 2, 1), (2, 4, 6, 6, 6, 3, 1, 1, 2), (2, 4, 5, 5, 4, 1, 1, 0, 1),
    (1, 6, 9, 9, 4, 3, 3, 1, 2), (1, 3, 4, 7, 2, 2, 1, 0, 1),
    (3, 3, 5, 7, 2, 3, 1, 1, 1), (2, 2, 4, 6, 5, 5, 1, 2, 1),  // "same" convolutions, C != O, several images per GEMM
    (2, 3, 3, 3, 2, 1, 1, 1, 1),   // 1x1 with padding: stride 1 forward by taps, input gradient by col2im
    (1, 9, 4, 4, 10, 3, 1, 1, 1),  // 10 filters: an 8-row panel and a remainder in the tap GEMMs
    (2, 16, 5, 4, 3, 3, 1, 1, 1),  // 16 channels: both gradients by taps (TapConvolution's weight gradient)
    (1, 32, 3, 3, 6, 3, 1, 1, 2),  // the same in two groups of 16
    (1, 16, 6, 6, 4, 3, 1, 0, 1),  // valid 3x3, 16 channels: forward and weight gradient by taps, input gradient by col2im
    (2, 16, 7, 7, 4, 3, 2, 1, 1),  // strided, 16 channels: polyphase taps forward and weight gradient, col2im input gradient
    (2, 16, 5, 6, 16, 3, 1, 1, 1), // Winograd F(4x4, 3x3), all three passes; the output is not whole tiles
    (1, 16, 6, 6, 32, 5, 1, 2, 1), // Winograd F(4x4, 5x5) on 8x8 tiles
    (2, 16, 2, 2, 16, 5, 1, 2, 1), // Winograd F(2x2, 5x5) on 6x6 tiles: a 2x2 output
    (2, 32, 6, 5, 16, 3, 1, 0, 1), // Winograd, valid 3x3 (the input gradient's plan pads by 2)
]

@Test("conv2d (stride, padding, groups, 1x1, Winograd)", arguments: convCases.indices)
func conv2dGradients(_ i: Int) {
    let c = convCases[i]
    let layer = Conv2D(name: "conv", input: TensorShape(c.1, c.2, c.3), filters: c.4, kernel: (c.5, c.5),
                       stride: (c.6, c.6), padding: (c.7, c.7), groups: c.8)
    let r = gradientCheck(layer, batch: c.0)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

/// (batch, channels, height, width, filters, kernel (h, w), stride (h, w), padding (h, w), dilation (h, w), groups)
let dilatedConvCases: [(Int, Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), (Int, Int), Int)] = [
    (2, 2, 7, 7, 3, (3, 3), (1, 1), (2, 2), (2, 2), 1),   // "same" dilated 3x3
    (1, 3, 8, 9, 2, (3, 2), (1, 1), (0, 1), (2, 3), 1),   // unequal dilations, valid rows
    (2, 4, 9, 9, 4, (3, 3), (2, 2), (1, 1), (2, 2), 2),   // strided, grouped
    (1, 16, 6, 6, 16, (3, 3), (1, 1), (2, 2), (2, 2), 1), // a shape Winograd would take undilated
]

@Test("conv2d, dilated: input and weight gradients against finite differences", arguments: dilatedConvCases.indices)
func dilatedConv2dGradients(_ i: Int) {
    let c = dilatedConvCases[i]
    let layer = Conv2D(name: "conv", input: TensorShape(c.1, c.2, c.3), filters: c.4, kernel: c.5, stride: c.6,
                       padding: c.7, dilation: c.8, groups: c.9)
    let r = gradientCheck(layer, batch: c.0)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

/// (batch, channels (= filters = groups), height, width, kernel, stride, padding, dilation): DepthwiseAlgorithm
let depthwiseConvCases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (2, 3, 7, 6, 3, 1, 1, 1),   // "same" 3x3: the input gradient correlates with the flipped filter
    (2, 2, 9, 8, 3, 2, 1, 1),   // strided: the input gradient scatters
    (1, 3, 8, 7, 5, 1, 2, 1),   // "same" 5x5
    (2, 2, 9, 9, 3, 1, 2, 2),   // "same" dilated 3x3
    (1, 2, 11, 10, 3, 2, 2, 2), // strided and dilated
]

@Test("conv2d, depthwise (groups == channels == filters): input and weight gradients against finite differences",
      arguments: depthwiseConvCases.indices)
func depthwiseConv2dGradients(_ i: Int) {
    let c = depthwiseConvCases[i]
    let layer = Conv2D(name: "conv", input: TensorShape(c.1, c.2, c.3), filters: c.1, kernel: (c.4, c.4), stride: (c.5, c.5),
                       padding: (c.6, c.6), dilation: (c.7, c.7), groups: c.1)
    let r = gradientCheck(layer, batch: c.0)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

/// Inputs whose values are all distinct and at least 0.05 apart, so that no
/// +-epsilon perturbation changes which tap wins a max window.
func spreadInput(_ count: Int, seed: UInt64) -> [Float] {
    var order = epochPermutation(count: count, seed: seed, epoch: 0)
    order = order.map { $0 }
    return order.map { Float($0) * 0.05 - Float(count) * 0.025 }
}

@Test("max pooling, overlapping and padded", arguments: [(2, 4, 4, 2, 2, 0), (1, 7, 7, 3, 2, 0), (2, 6, 5, 3, 2, 1), (1, 5, 5, 5, 1, 2)])
func maxPoolGradients(_ c: (Int, Int, Int, Int, Int, Int)) {
    let input = TensorShape(c.0, c.1, c.2)
    let layer = MaxPool2D(name: "pool", input: input, kernel: (c.3, c.3), stride: (c.4, c.4), padding: (c.5, c.5))
    let r = gradientCheck(layer, batch: 2, input: spreadInput(2 * input.count, seed: 5), epsilon: 0.01)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

@Test("average pooling", arguments: [(2, 4, 4, 2, 2, 0), (1, 7, 7, 3, 2, 0), (2, 6, 5, 3, 2, 1)])
func avgPoolGradients(_ c: (Int, Int, Int, Int, Int, Int)) {
    let layer = AvgPool2D(name: "pool", input: TensorShape(c.0, c.1, c.2), kernel: (c.3, c.3), stride: (c.4, c.4), padding: (c.5, c.5))
    let r = gradientCheck(layer, batch: 2)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

@Test("flatten, ReLU, sigmoid")
func pointwiseGradients() {
    let shape = TensorShape(3, 4, 5)
    // ReLU: keep inputs away from the kink at 0.
    let reluInput = testValues(2 * shape.count, seed: 9).map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }
    for (layer, input) in [(Reshape(flattening: shape, name: "f") as any Layer, nil), (ReLU(name: "r", input: shape), reluInput),
                           (Sigmoid(name: "s", input: shape), nil)] as [(any Layer, [Float]?)] {
        let r = gradientCheck(layer, batch: 2, input: input)
        #expect(r.checked > 0)
        #expect(r.mismatches.isEmpty, "\(layer.typeName): \(r.mismatches.prefix(3))")
    }
}

@Test("dropout in training (fixed mask per sample) and inference (identity)")
func dropoutGradients() {
    let layer = Dropout(name: "d", input: TensorShape(50), probability: 0.3)
    for training in [true, false] {
        let r = gradientCheck(layer, batch: 3, training: training)
        #expect(r.checked > 0)
        #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
    }
}

@Test("dropout keeps about 1-p of the units, scaled by 1/(1-p), keyed by sample index")
func dropoutStatistics() {
    let n = 10_000
    let layer = Dropout(name: "d", input: TensorShape(n), probability: 0.25)
    layer.allocate(maxBatch: 2)
    let context = StepContext(seed: 1, maxBatch: 2)
    context.sampleIndices[0] = 42; context.sampleIndices[1] = 42  // same sample twice: same mask
    let x = [Float](repeating: 1, count: 2 * n)
    var y = [Float](repeating: 0, count: 2 * n)
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { layer.forward(xs.baseAddress!, $0.baseAddress!, batch: 2, context: context) } }
    let kept = y[0..<n].filter { $0 != 0 }
    #expect(abs(Double(kept.count) / Double(n) - 0.75) < 0.02)
    #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
    #expect(Array(y[0..<n]) == Array(y[n...]))
}

@Test("local response normalisation (AlexNet's n 5, k 2, beta 0.75; a large alpha makes the cross terms count)",
      arguments: [(5, Float(1e-4)), (5, Float(0.5)), (3, Float(1.0)), (4, Float(0.3))])
func lrnGradients(_ c: (Int, Float)) {
    let layer = LocalResponseNorm(name: "lrn", input: TensorShape(7, 3, 2), size: c.0, alpha: c.1, beta: 0.75, k: 2)
    let r = gradientCheck(layer, batch: 2, input: testValues(2 * 42, seed: 4).map { $0 * 3 })
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

@Test("local response normalisation forward matches the formula")
func lrnForward() {
    let layer = LocalResponseNorm(name: "lrn", input: TensorShape(3, 1, 1), size: 3, alpha: 0.3, beta: 0.5, k: 1)
    layer.allocate(maxBatch: 1)
    let x: [Float] = [1, 2, 3]
    var y = [Float](repeating: 0, count: 3)
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer {
        layer.forward(xs.baseAddress!, $0.baseAddress!, batch: 1, context: StepContext(seed: 0, maxBatch: 1))
    } }
    // s0 = 1 + 0.1 (1 + 4), s1 = 1 + 0.1 (1 + 4 + 9), s2 = 1 + 0.1 (4 + 9): hand-computed.
    let expected: [Float] = [1 / Float(1.5).squareRoot(), 2 / Float(2.4).squareRoot(), 3 / Float(2.3).squareRoot()]
    for i in 0..<3 { #expect(abs(y[i] - expected[i]) < 1e-6) }
}

/// (batch, channels, size, filters, kernel, padding, bias, fused relu)
let winogradLayerCases: [(Int, Int, Int, Int, Int, Int, Bool, Bool)] = [
    (3, 16, 8, 16, 3, 1, false, false), (2, 32, 7, 16, 3, 1, true, true), (2, 16, 12, 32, 5, 2, true, false),
    (5, 16, 4, 48, 3, 0, false, true),
]

@Test("conv2d: Winograd and direct (algorithm: direct) agree on outputs, input and weight gradients, with bias and fused relu",
      arguments: winogradLayerCases.indices)
func winogradMatchesDirect(_ i: Int) {
    let c = winogradLayerCases[i], input = TensorShape(c.1, c.2, c.2)
    func run(_ winograd: Bool) -> [[Float]] {
        let layer = Conv2D(name: "conv", input: input, filters: c.3, kernel: (c.4, c.4), padding: (c.5, c.5), bias: c.6,
                           winograd: winograd)
        layer.rectifiesOutput = c.7
        let context = StepContext(seed: 3, maxBatch: c.0)
        layer.allocate(maxBatch: c.0)
        let params = layer.parameterSpecs.enumerated().map { k, spec -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: spec.count)
            p.initialize(from: testValues(spec.count, seed: UInt64(40 + k)), count: spec.count)
            return p
        }
        let grads = layer.parameterSpecs.map { spec -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: spec.count)
            p.initialize(repeating: 0.25, count: spec.count)
            return p
        }
        defer { (params + grads).forEach { $0.deallocate() } }
        layer.bind(parameters: params, gradients: grads)
        let x = testValues(c.0 * input.count, seed: 50)
        var y = [Float](repeating: 0, count: c.0 * layer.outputShape.count)
        var dy = testValues(y.count, seed: 51)
        var dx = [Float](repeating: 0.5, count: x.count)
        y.withUnsafeMutableBufferPointer { layer.forward(x, $0.baseAddress!, batch: c.0, context: context) }
        dy.withUnsafeMutableBufferPointer { d in dx.withUnsafeMutableBufferPointer {
            layer.backward(x, y, d.baseAddress!, $0.baseAddress!, batch: c.0, context: context)
        } }
        return [y, dx] + zip(grads, layer.parameterSpecs).map { Array(UnsafeBufferPointer(start: $0, count: $1.count)) }
    }
    let fast = run(true), direct = run(false)
    for (k, what) in ["output", "input gradient", "weight gradient", "bias gradient"].prefix(fast.count).enumerated() {
        let scale = max(1, direct[k].map { abs($0) }.max() ?? 0)
        let worst = zip(fast[k], direct[k]).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 3e-4 * scale, "\(what): worst difference \(worst) at scale \(scale)")
        #expect(fast[k] != direct[k] || k == 3, "\(what): identical, so the Winograd path did not run")
    }
}

@Test("local response normalisation: the square-root powers (beta 0.75, 0.5, 1) match pow, and other betas use it", arguments: [Float(0.75), 0.5, 1, 0.6])
func lrnPowers(_ beta: Float) {
    let layer = LocalResponseNorm(name: "lrn", input: TensorShape(4, 2, 3), size: 3, alpha: 0.7, beta: beta, k: 1.5)
    layer.allocate(maxBatch: 2)
    let x = testValues(48, seed: 9).map { $0 * 2 }
    var y = [Float](repeating: 0, count: 48)
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer {
        layer.forward(xs.baseAddress!, $0.baseAddress!, batch: 2, context: StepContext(seed: 0, maxBatch: 2))
    } }
    for n in 0..<2 {
        for c in 0..<4 {
            for p in 0..<6 {
                var s = 1.5
                for c2 in max(0, c - 1)...min(3, c + 1) { s += 0.7 / 3 * Double(x[n * 24 + c2 * 6 + p] * x[n * 24 + c2 * 6 + p]) }
                let expected = Double(x[n * 24 + c * 6 + p]) * pow(s, -Double(beta))
                #expect(abs(Double(y[n * 24 + c * 6 + p]) - expected) < 1e-5 * max(1, abs(expected)), "beta \(beta) at \(n), \(c), \(p)")
            }
        }
    }
}
