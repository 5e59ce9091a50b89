import Testing
import PTrain

// One layer scratch per replica (LayerScratch): sized to the largest need
// of its layers, not their sum, shared with the worker's evaluation
// network; convolutions taking turns on it compute what each computes with
// a scratch of its own.

/// Winograd (3x3 over 16 channels), taps and im2col (strided), taps and
/// window planes (5x5 over 8 channels), pointwise (no scratch).
private let convolutionStack = baseConfig.replacingOccurrences(of: """
  input: [1, 8, 8]
  layers:
    - {type: conv2d, filters: 4, kernel: 3}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: dense, units: 10}
""", with: """
  input: [16, 12, 12]
  layers:
    - {type: conv2d, filters: 16, kernel: 3, padding: 1}
    - {type: conv2d, filters: 8, kernel: 3, stride: 2, padding: 1}
    - {type: conv2d, filters: 8, kernel: 5, padding: 2}
    - {type: conv2d, filters: 4, kernel: 1}
    - {type: flatten}
    - {type: dense, units: 10}
""")

@Test("a network reserves one layer scratch, the largest of its layers' needs (not their sum), shared with an evaluation network")
func networkScratchIsTheLargestNeed() throws {
    let model = try RunConfig.parse(yaml: convolutionStack, file: "t.yaml").model.build()
    let needs = model.layers.map { $0.scratchFloats(maxBatch: 4) }
    #expect(needs[0..<3].allSatisfy { $0 > 0 } && needs[3] == 0)
    let largest = try #require(needs.max())
    #expect(largest < needs.reduce(0, +))
    let parameters = FloatBuffer(count: model.layout.totalCount)
    let net = Network(model: model, maxBatch: 4, parameters: parameters, gradients: FloatBuffer(count: parameters.count), seed: 1)
    #expect(net.scratchFloats == largest && net.context.scratch.count == largest)
    #expect(NetworkFootprint(model: model, maxBatch: 4, training: true).scratchBytes == 4 * largest)
    let evalModel = try RunConfig.parse(yaml: convolutionStack, file: "t.yaml").model.build()
    let eval = Network(model: evalModel, maxBatch: 9, parameters: parameters, gradients: nil, seed: 1, scratch: net.context.scratch)
    #expect(eval.context.scratch === net.context.scratch)
    #expect(net.context.scratch.count == max(largest, eval.scratchFloats))
}

@Test("convolutions taking turns on one scratch (NaN-filled before every pass) compute bit for bit what each does alone")
func convolutionsShareScratch() throws {
    let model = try RunConfig.parse(yaml: convolutionStack, file: "t.yaml").model.build()
    let convolutions = model.layers.prefix(3).map { $0 as! Conv2D }
    let batch = 2
    let shared = StepContext(seed: 1, maxBatch: batch)
    /// Each layer's forward y, input gradient dx and weight gradient dW.
    func run(_ layer: Conv2D, seed: UInt64, context: StepContext) -> [[Float]] {
        if context === shared {
            let all = shared.scratch.count
            shared.scratch.floats(all).update(repeating: .nan, count: all)
        }
        let specs = layer.parameterSpecs
        let parameters = specs.enumerated().map { i, spec in
            let buffer = FloatBuffer(count: spec.count)
            buffer.pointer.update(from: testValues(spec.count, seed: seed &+ UInt64(i)), count: spec.count)
            return buffer
        }
        let gradients = specs.map { FloatBuffer(count: $0.count) }
        let x = testValues(batch * layer.inputShape.count, seed: seed &+ 10)
        let dy = testValues(batch * layer.outputShape.count, seed: seed &+ 11)
        var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: 0, count: x.count)
        withExtendedLifetime(parameters) {
            layer.bind(parameters: parameters.map(\.pointer), gradients: gradients.map(\.pointer))
            layer.forward(x, &y, batch: batch, context: context)
            layer.backward(x, y, dy, &dx, batch: batch, context: context)
        }
        return [y, dx, gradients[0].array]
    }
    let alone = convolutions.enumerated().map { i, layer in
        layer.allocate(maxBatch: batch)
        return run(layer, seed: UInt64(100 * i), context: StepContext(seed: 1, maxBatch: batch))
    }
    shared.scratch.reserve(convolutions.map { $0.scratchFloats(maxBatch: batch) }.max()!)
    for round in 0..<2 {
        for (i, layer) in convolutions.enumerated() {
            let got = run(layer, seed: UInt64(100 * i), context: shared)
            let alone = alone[i]
            for (k, what) in ["y", "dx", "dW"].enumerated() {
                let differ = zip(got[k], alone[k]).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differ == 0, "layer \(i) \(what), round \(round): \(differ) of \(got[k].count) differ")
            }
        }
    }
}
