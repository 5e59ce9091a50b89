import Testing
import PTrain

// An inference network's dense layers read W^T, prepared from the weights
// once per evaluation (`InferencePreparing`, `InferenceWeights`), through the
// GEMM that sums over the inputs in order: their outputs must be exactly
// those sums, of the weights as they are when `prepareInference()` runs.

/// fc1: 300 inputs (more than a 256-deep k block of the GEMM, not a multiple
/// of 16), 37 units (a ragged 32-column panel), bias and a fused relu; fc2:
/// 37 inputs, no bias.
let preparedDenseModel = """
  layers:
    - {type: flatten}
    - {name: fc1, type: dense, units: 37}
    - {type: relu}
    - {name: fc2, type: dense, units: 5, bias: false}
"""

/// `y[n, o] = sum_k x[n, k] * w[o, k]` as the packed GEMM rounds it: one
/// fused multiply-add per term in k order within each 256-deep k block (its
/// KC), each block's sum added to the blocks' before; then `+ bias[o]` and
/// the relu.
func sequentialDense(_ x: [Float], rows: Int, inputs: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                     units: Int, relu: Bool) -> [Float] {
    var y = [Float](repeating: 0, count: rows * units)
    for n in 0..<rows {
        for o in 0..<units {
            var acc: Float = 0
            for k0 in stride(from: 0, to: inputs, by: 256) {
                var block: Float = 0
                for k in k0..<min(inputs, k0 + 256) { block = block.addingProduct(x[n * inputs + k], weight[o * inputs + k]) }
                acc = k0 == 0 ? block : block + acc
            }
            if let bias { acc += bias[o] }
            y[n * units + o] = relu ? max(acc, 0) : acc
        }
    }
    return y
}

@Test("an inference network's dense layers compute from W^T prepared from the current weights: bitwise the in-order sums, and the new weights' after they change and prepareInference() runs again")
func preparedDenseWeights() throws {
    let model = try buildGraph(graphConfig(preparedDenseModel, input: "[3, 10, 10]", classes: 5), classes: 5)
    let params = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 5)
    #expect(InferenceWeights.floats(for: model) == 300 * 37 + 37 * 5)
    let store = try #require(InferenceWeights(model: model, parameters: params))
    let net = Network(model: model, maxBatch: 4, parameters: params, gradients: nil, seed: 1, inferenceWeights: store)
    #expect(!store.isPrepared)
    let fc1 = model.layout.layerOffsets[1], fc2 = model.layout.layerOffsets[3]
    let x = testValues(4 * 300, seed: 9)
    var outputs: [[Float]] = []
    for round in 0..<2 {
        if round == 1 {
            // New weights: a prepared copy of the old ones would give the old outputs.
            for i in 0..<params.count { params.pointer[i] = -0.75 * params.pointer[i] + 0.01 }
        }
        net.prepareInference()
        #expect(store.isPrepared)
        net.input.pointer.update(from: x, count: x.count)
        net.forward(batch: 4, training: false)
        let hidden = sequentialDense(x, rows: 4, inputs: 300, weight: params.pointer + fc1[0], bias: params.pointer + fc1[1],
                                     units: 37, relu: true)
        let expected = sequentialDense(hidden, rows: 4, inputs: 37, weight: params.pointer + fc2[0], bias: nil, units: 5, relu: false)
        let out = Array(UnsafeBufferPointer(start: net.output, count: 20))
        #expect(out == expected, "round \(round)")
        outputs.append(out)
    }
    #expect(outputs[0] != outputs[1])
    store.invalidate()
    #expect(!store.isPrepared)
}

@Test("a network without prepared weights, or a training network, computes the dense forward from W as before")
func unpreparedDenseForward() throws {
    let model = try buildGraph(graphConfig(preparedDenseModel, input: "[3, 10, 10]", classes: 5), classes: 5)
    let params = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 5)
    let plain = Network(model: model, maxBatch: 4, parameters: params, gradients: nil, seed: 1)
    #expect(plain.inferenceWeights == nil)
    let x = testValues(4 * 300, seed: 9)
    plain.input.pointer.update(from: x, count: x.count)
    plain.forward(batch: 4, training: false)
    // The same sums in another order: close to the in-order ones, not equal in every bit.
    let fc1 = model.layout.layerOffsets[1], fc2 = model.layout.layerOffsets[3]
    let hidden = sequentialDense(x, rows: 4, inputs: 300, weight: params.pointer + fc1[0], bias: params.pointer + fc1[1],
                                 units: 37, relu: true)
    let expected = sequentialDense(hidden, rows: 4, inputs: 37, weight: params.pointer + fc2[0], bias: nil, units: 5, relu: false)
    for (a, b) in zip(UnsafeBufferPointer(start: plain.output, count: 20), expected) {
        #expect(abs(a - b) <= 1e-5 * max(1, abs(b)))
    }
}

@Test("dense layers prepare W^T up to 8 MiB of weights; larger ones keep the inner products and add no memory")
func preparedDenseLimit() {
    #expect(Dense(name: "at", input: TensorShape(2048), units: 1024).preparedFloats == 2048 * 1024)
    #expect(Dense(name: "over", input: TensorShape(2049), units: 1024).preparedFloats == 0)
    #expect(Dense.maxPreparedFloats == 1 << 21)
}

/// Winograd convolutions in each way an inference network runs them: c1
/// with a folded norm and relu into c2's planes, c2 reading them with a
/// folded residual add, c3 (5x5, 8x8 tiles) with its max pool folded in;
/// then a 1x1 convolution (nothing to prepare) to the classes, no dense
/// layer (its prepared sums round differently from the inner products).
let preparedConvolutionModel = """
  layers:
    - {name: c1, type: conv2d, filters: 16, kernel: 3, padding: 1, bias: false}
    - {name: n1, type: batchnorm}
    - {name: r1, type: relu}
\(residualJoinLayers)
    - {name: c3, type: conv2d, filters: 16, kernel: 5, padding: 2}
    - {name: r3, type: relu}
    - {name: pool, type: maxpool, kernel: 3, stride: 2, padding: 1}
    - {name: head, type: conv2d, filters: 3, kernel: 1}
    - {type: global_avgpool}
"""

@Test("an inference network's Winograd convolutions read U prepared once (planes in and out, a folded residual, a folded pool): bitwise the outputs of transforming the weights in every pass, before and after the weights change")
func preparedWinogradWeights() throws {
    let yaml = graphConfig(preparedConvolutionModel, input: "[16, 10, 10]")
    let model = try buildGraph(yaml), reference = try buildGraph(yaml)
    let params = foldingParameters(model)
    let conv = model.layers.compactMap { $0 as? Conv2D }
    #expect(conv.map(\.preparedFloats) == [36 * 16 * 16, 36 * 16 * 16, 64 * 16 * 16, 0])
    let store = try #require(InferenceWeights(model: model, parameters: params))
    #expect(InferenceWeights.floats(for: model) == 36 * 256 * 2 + 64 * 256)
    let prepared = Network(model: model, maxBatch: 3, parameters: params, gradients: nil, seed: 1, inferenceWeights: store)
    let plain = Network(model: reference, maxBatch: 3, parameters: params, gradients: nil, seed: 1)
    #expect(model.layers.contains { ($0 as? Conv2D)?.foldedPool != nil } && model.layers.contains { ($0 as? Conv2D)?.foldedResidual != nil })
    let x = testValues(3 * 1600, seed: 4)
    for round in 0..<2 {
        if round == 1 {
            for i in 0..<params.count where model.layout.entries.contains(where: { $0.range.contains(i) && !(model.layers[$0.layerIndex] is BatchNorm) }) {
                params.pointer[i] = 0.5 * params.pointer[i] - 0.01
            }
        }
        prepared.prepareInference()
        let outputs = [prepared, plain].map { net -> [Float] in
            net.input.pointer.update(from: x, count: x.count)
            net.forward(batch: 3, training: false)
            return Array(UnsafeBufferPointer(start: net.output, count: 9))
        }
        #expect(outputs[0].map(\.bitPattern) == outputs[1].map(\.bitPattern), "round \(round)")
        #expect(Set(outputs[0]).count > 1)
    }
}
