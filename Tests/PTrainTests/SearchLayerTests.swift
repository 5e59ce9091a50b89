import Testing
import PTrain

// The layers of a DARTS search space: batch norm without affine parameters,
// the zero op, FactorizedReduce and the mixed op, against finite differences
// and hand-computed values; alpha as an architecture parameter the weight
// optimizer leaves alone.

@Test("batch norm without affine parameters (training mode)", arguments: [(2, 3, 4, 4), (5, 2, 1, 1), (1, 2, 6, 6)])
func batchNormWithoutAffineGradients(_ s: (Int, Int, Int, Int)) {
    let layer = BatchNorm(name: "bn", input: TensorShape(s.1, s.2, s.3), affine: false)
    #expect(layer.parameterSpecs.map(\.name) == ["running_mean", "running_var"] && layer.parameterCount == 0)
    let r = gradientCheck(layer, batch: s.0, epsilon: 1e-2, tolerance: 3e-2)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

@Test("batch norm without affine parameters normalises to (x - mean) / sqrt(var + eps) and keeps running statistics")
func batchNormWithoutAffineValues() {
    let layer = BatchNorm(name: "bn", input: TensorShape(2, 1, 2), affine: false)
    let x: [Float] = [1, 3, 0, 2,   5, 7, 4, 6]  // channel 0: 1, 3, 5, 7 (mean 4); channel 1: 0, 2, 4, 6 (mean 3); variance 5
    var grads: [[Float]] = [[0, 0], [0, 0]]
    let y = runLayer(layer, x, batch: 2, training: true, parameters: [[0, 0], [1, 1]], gradients: &grads,
                     gradScale: 1 / 2, backward: [Float](repeating: 0, count: 8))
    for (i, v) in x.enumerated() {
        let mean: Float = (i / 2) % 2 == 0 ? 4 : 3
        #expect(abs(y[i] - (v - mean) / (5 + 1e-5).squareRoot()) < 1e-5)
    }
    #expect(grads[0] == [4, 3] && abs(grads[1][0] - Float(20.0 / 3)) < 1e-5)  // the running statistics' slots
    let inference = runLayer(layer, x, batch: 2, training: false, parameters: [[1, 2], [4, 0.25]], gradients: &grads)
    #expect(abs(inference[0] - (1 - 1) / (4 + 1e-5).squareRoot()) < 1e-6 && abs(inference[2] - (0 - 2) / (0.25 + 1e-5).squareRoot()) < 1e-4)
}

@Test("checkpoint tensors of batch norm without affine parameters: running statistics only; an affine model's weights are refused")
func batchNormWithoutAffineWeights() throws {
    func layout(_ bn: String) throws -> ParameterLayout {
        try RunConfig.parse(yaml: graphConfig("  layers:\n    - {name: bn, type: batchnorm\(bn)}\n    - {type: dense, units: 3}"),
                            file: "t.yaml").model.build().layout
    }
    let plain = try layout(", affine: false"), affine = try layout("")
    #expect(plain.entries.map(\.name) == ["bn.running_mean", "bn.running_var", "1.weight", "1.bias"])
    let arena = (0..<plain.totalCount).map(Float.init)
    var loaded = [Float](repeating: 0, count: plain.totalCount)
    try plain.load(plain.tensors(from: arena), into: &loaded, file: "w.safetensors")
    for e in plain.entries { #expect(loaded[e.range] == arena[e.range]) }
    let other = affine.tensors(from: [Float](repeating: 1, count: affine.totalCount))
    #expect(throws: ConfigError("w.safetensors: the weights do not match the model: unexpected tensor 'bn.weight' [2]; unexpected tensor 'bn.bias' [2]")) {
        try plain.load(other, into: &loaded, file: "w.safetensors")
    }
}

@Test("zero: zeros of the input's shape, or of the strided shape; zero gradient")
func zeroOperation() {
    for (stride, shape) in [(1, TensorShape(2, 5, 4)), (2, TensorShape(2, 3, 2)), (3, TensorShape(2, 2, 2))] {
        let layer = Zero(name: "z", input: TensorShape(2, 5, 4), stride: stride)
        #expect(layer.outputShape == shape)
        let r = gradientCheck(layer, batch: 2)
        #expect(r.checked > 0)
        #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
        var y = [Float](repeating: 7, count: 2 * shape.count)
        layer.forward(testValues(2 * 40, seed: 1), &y, batch: 2, context: StepContext(seed: 1, maxBatch: 2))
        #expect(y.allSatisfy { $0 == 0 })
    }
}

/// Values at least 0.0125 away from 0 (relu's kink) and 0.05 apart (max pooling's ties).
func kinkFreeInput(_ count: Int, seed: UInt64) -> [Float] { spreadInput(count, seed: seed).map { $0 + 0.0125 } }

@Test("factorized reduce (affine or not; even and odd sizes)", arguments: [(2, 3, 4, 4, 4, true), (2, 2, 5, 3, 2, false), (1, 4, 6, 6, 6, true)])
func factorizedReduceGradients(_ c: (Int, Int, Int, Int, Int, Bool)) {
    let layer = FactorizedReduce(name: "fr", input: TensorShape(c.1, c.2, c.3), filters: c.4, affine: c.5)
    #expect(layer.outputShape == TensorShape(c.4, (c.2 + 1) / 2, (c.3 + 1) / 2))
    #expect(layer.parameterSpecs.map(\.name) == ["conv_1.weight", "conv_2.weight"] + (c.5 ? ["bn.weight", "bn.bias"] : [])
            + ["bn.running_mean", "bn.running_var"])
    let r = gradientCheck(layer, batch: c.0, input: kinkFreeInput(c.0 * layer.inputShape.count, seed: 3), tolerance: 3e-2)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

/// (values - mean) / sqrt(biased variance + 1e-5).
func normalised(_ values: [Float]) -> [Float] {
    let mean = values.reduce(0, +) / Float(values.count)
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(values.count)
    return values.map { ($0 - mean) / (variance + 1e-5).squareRoot() }
}

@Test("factorized reduce: relu, even pixels and the pixels shifted by one (zero past the edge), 1x1 convolutions, batch norm")
func factorizedReduceValues() {
    let layer = FactorizedReduce(name: "fr", input: TensorShape(1, 3, 3), filters: 2, affine: false)
    let x: [Float] = [1, -2, 3,
                      4, 5, -6,
                      -7, 8, 9]
    var grads: [[Float]] = [[0], [0], [0, 0], [0, 0]]
    let y = runLayer(layer, x, batch: 1, training: true, parameters: [[2], [-1], [0, 0], [1, 1]], gradients: &grads)
    // Even pixels relu'd: 1, 3, 0, 9, times 2; shifted: 5 then padding, times -1.
    let expected = normalised([2, 6, 0, 18]) + normalised([-5, 0, 0, 0])
    #expect(zip(y, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(y) vs \(expected)")
}

/// A mixed layer over 2x4x4 inputs: the zero op, max pooling then batch norm
/// without affine parameters, a 3x3 convolution, and relu then a 1x1 convolution.
func sampleMixed() -> Mixed {
    let input = TensorShape(2, 4, 4)
    return Mixed(name: "edge", input: input, ops: [
        [Zero(name: "z", input: input)],
        [MaxPool2D(name: "p", input: input, kernel: (3, 3), stride: (1, 1), padding: (1, 1)), BatchNorm(name: "bn", input: input, affine: false)],
        [Conv2D(name: "c", input: input, filters: 2, kernel: (3, 3), padding: (1, 1), bias: false)],
        [ReLU(name: "r", input: input), Conv2D(name: "c", input: input, filters: 2, kernel: (1, 1))],
    ])
}

@Test("mixed: gradients of the input, every op's weights and alpha")
func mixedGradients() {
    let layer = sampleMixed()
    #expect(layer.parameterSpecs.map(\.name) == ["alpha", "ops.1.1.running_mean", "ops.1.1.running_var", "ops.2.0.weight",
                                                 "ops.3.1.weight", "ops.3.1.bias"])
    #expect(layer.parameterSpecs.map(\.role) == [.architecture, .weight, .weight, .weight, .weight, .weight])
    #expect(layer.parameterCount == 2 * 2 * 9 + 2 * 2 + 2)
    for batch in [1, 3] {
        let r = gradientCheck(sampleMixed(), batch: batch, input: kinkFreeInput(batch * 32, seed: 8), tolerance: 3e-2, maxChecks: 100)
        #expect(r.checked > 0)
        #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
    }
}

@Test("mixed: the softmax(alpha)-weighted sum of the ops' outputs")
func mixedValues() {
    let input = TensorShape(1, 2, 2)
    let layer = Mixed(name: "edge", input: input, ops: [
        [Zero(name: "z", input: input)], [ReLU(name: "r", input: input)],
        [Conv2D(name: "c", input: input, filters: 1, kernel: (1, 1), bias: false)],
    ])
    var grads: [[Float]] = [[0, 0, 0], [0]]
    // softmax(0, ln 2, ln 3) = 1/6, 2/6, 3/6: y = relu(x) / 3 + 0.5 x / 2.
    let y = runLayer(layer, [1, -2, 3, -4], batch: 1, training: true, parameters: [[0, 0.693_147_2, 1.098_612_3], [0.5]],
                     gradients: &grads)
    let expected: [Float] = [7.0 / 12, -0.5, 1.75, -1]
    #expect(zip(y, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(y)")
}

/// A model with a mixed edge (`edge`) between a convolution and the classifier.
let mixedModel = """
  layers:
    - {name: stem, type: conv2d, filters: 2, kernel: 3, padding: 1}
    - {name: edge, type: mixed, ops: [[{type: zero}], [{type: conv2d, filters: 2, kernel: 3, padding: 1}]]}
    - {type: dense, units: 3}
"""

@Test("alpha is an architecture parameter: initialised as DARTS does, checkpointed, not stepped by the weight optimizer")
func alphaIsArchitecture() throws {
    let model = try RunConfig.parse(yaml: graphConfig(mixedModel), file: "t.yaml").model.build(classes: 3)
    let layout = model.layout
    // Architecture parameters come last: one contiguous range.
    #expect(layout.entries.map(\.name) == ["stem.weight", "stem.bias", "edge.ops.1.0.weight", "edge.ops.1.0.bias",
                                           "2.weight", "2.bias", "edge.alpha"])
    #expect(layout.architectureRange == layout.entries.last!.offset..<layout.totalCount)
    let alpha = try #require(layout.architectureParameters.first)
    #expect(layout.architectureParameters.count == 1 && alpha.name == "edge.alpha" && alpha.shape == [2])
    #expect(alpha.initializer == .normal(std: 1e-3))
    #expect(model.parameterCount == layout.entries.filter { $0.role == .weight }.reduce(0) { $0 + $1.count })
    #expect(layout.tensors(from: (0..<layout.totalCount).map(Float.init)).contains { $0.name == "edge.alpha" && $0.values == [Float(alpha.offset), Float(alpha.offset + 1)] })
    // Momentum and weight decay would move alpha if it were stepped; cuts
    // inside alpha's range must leave it alone as well.
    let n = layout.totalCount
    let update = ParameterUpdate(optimizer: OptimizerConfig(learningRate: 0.5, momentum: 0.9, nesterov: true, weightDecay: 1e-2),
                                 layout: layout)
    let w0 = (0..<n).map { Float($0 % 7) * 0.1 + 0.1 }, g = (0..<n).map { Float($0 % 5) * 0.01 + 0.01 }
    var w = w0, v = g
    let cuts = [0, alpha.offset + 1, alpha.offset + 2, n]
    for k in 0..<cuts.count - 1 {
        update.apply(parameters: &w, gradients: g, state: &v, range: cuts[k]..<cuts[k + 1], learningRate: 0.5, step: 1)
    }
    for i in 0..<n {
        let isAlpha = alpha.range.contains(i)
        #expect((w[i] == w0[i]) == isAlpha && (v[i] == g[i]) == isAlpha, "index \(i)")
    }
}

@Test("zero, factorized_reduce, mixed and batchnorm config errors", arguments: [
    ("{type: batchnorm, affine: 3}", "t.yaml:6:33: model.layers[0].affine: expected true or false, found '3'"),
    ("{type: zero, stride: 0}", "t.yaml:6:28: model.layers[0].stride: expected an integer in [1, 65536], found '0'"),
    ("{type: factorized_reduce, filters: 3}", "t.yaml:6:42: model.layers[0].filters: expected an even number of filters (two halves of 1x1 convolutions), found 3"),
    ("{type: mixed, ops: []}", "t.yaml:6:26: model.layers[0].ops: a mixed layer needs at least one op"),
    ("{type: mixed, ops: [[]]}", "t.yaml:6:27: model.layers[0].ops[0]: an op needs at least one layer"),
    ("{type: mixed, ops: [[{type: zero}], [{type: zero, stride: 2}]]}",
     "t.yaml:6:7: model.layers[0]: (mixed) ops[1] outputs 2x3x3, but ops[0] outputs 2x6x6: every op must map the input to the same shape"),
    ("{type: mixed, ops: [[{type: maxpool, kernel: 9}]]}",
     "t.yaml:6:7: model.layers[0]: (mixed) ops[0][0] (maxpool) kernel 9x9 does not fit the input 2x6x6 padded by 0x0 (6x6)"),
    ("{type: mixed, ops: [[{type: add, inputs: [in]}]]}",
     "t.yaml:6:28: model.layers[0].ops[0][0]: an op is a chain of one-input layers; 'add' joins several inputs"),
    ("{type: mixed, ops: [[{type: zero, name: z}]]}",
     "t.yaml:6:41: model.layers[0].ops[0][0].name: unknown key (expected one of: stride, type)"),
])
func searchLayerConfigErrors(_ c: (layer: String, message: String)) {
    #expect(configError(graphConfig("  layers:\n    - \(c.layer)\n    - {type: dense, units: 3}")) == c.message)
}

@Test("the memory estimate counts a mixed edge's inner outputs and gradients, and a factorized reduce's buffers")
func compositeLayersOwnedFloats() throws {
    // 4 ops on 2x4x4 (32 floats a sample): outputs 32 (zero) + 32 + 32 (pool, bn) + 32 (conv) + 32 + 32 (relu, conv),
    // two gradient buffers of 32 per op; the 4 mixture weights; the batch norm's statistics
    // (2 channels without affine: 5 vectors, 2 x 2 + 1 doubles, a unit scale and a zero shift).
    #expect(sampleMixed().ownedFloats(maxBatch: 5) == 5 * (192 + 4 * 2 * 32) + 4 + (5 * 2 + 2 * 5 + 2 * 2))
    // Strided copies of the 2x4x4 input (2x2x2 each, with gradients) and the joined 4x2x2 output with its gradient;
    // the batch norm's statistics (4 channels: 5 vectors, 2 x 4 + 1 doubles).
    let reduce = FactorizedReduce(name: "r", input: TensorShape(2, 4, 4), filters: 4, affine: true)
    #expect(reduce.ownedFloats(maxBatch: 3) == 3 * (4 * 8 + 2 * 16) + (5 * 4 + 2 * 9))
    let model = try RunConfig.parse(yaml: graphConfig(mixedModel), file: "t.yaml").model.build(classes: 3)
    let inner = model.layers.reduce(0) { $0 + $1.ownedFloats(maxBatch: 4) }
    #expect(inner == 4 * (72 + 72 + 2 * 2 * 72) + 2)
    // The footprint adds them to the activations: the edge's inner buffers alone exceed the rest.
    #expect(NetworkFootprint(model: model, maxBatch: 4, training: true).bytes > 4 * inner)
    #expect(NetworkFootprint(model: model, maxBatch: 4, training: true).bytes < 8 * inner)
}
