import Testing
import PTrain

// The first layer to write a tensor's gradient in backward (its last reader)
// writes it instead of adding into a zeroed buffer (`InputGradientOverwriting`):
// the same bits, and only where that layer writes every element.

/// A residual block on Winograd-sized tensors (16 channels, 3x3), then a
/// max pool and a downsampling block
/// (a strided conv, which adds, and an option-A shortcut).
let overwriteModel = """
  layers:
    - {name: stem, type: conv2d, filters: 16, kernel: 3, padding: 1}
    - {name: sr, type: relu}
    - {name: c1, type: conv2d, filters: 16, kernel: 3, padding: 1, bias: false}
    - {name: bn1, type: batchnorm}
    - {name: r1, type: relu}
    - {name: c2, type: conv2d, filters: 16, kernel: 3, padding: 1, bias: false}
    - {name: bn2, type: batchnorm}
    - {name: add1, type: add, inputs: [bn2, sr]}
    - {name: r2, type: relu}
    - {name: pool, type: maxpool, kernel: 2}
    - {name: c3, type: conv2d, filters: 32, kernel: 3, stride: 2, padding: 1, bias: false}
    - {name: bn3, type: batchnorm}
    - {name: sc, type: shortcut, channels: 32, stride: 2, input: pool}
    - {name: add2, type: add, inputs: [bn3, sc]}
    - {name: r3, type: relu}
    - {name: gap, type: global_avgpool}
    - {name: fc, type: dense, units: 3}
"""

@Test("gradients written by their first writer instead of added into zeros: bitwise the same, where that writer writes them all")
func overwrittenGradientsMatchAddedOnes() throws {
    let yaml = graphConfig(overwriteModel, input: "[16, 6, 6]")
    let build = { try buildGraph(yaml) }
    let model = try build()
    let params = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 3)
    let batch = 4
    let x = testValues(batch * model.inputShape.count, seed: 19)
    var results: [(output: [Float], gradients: [Float], overwriting: [String])] = []
    for overwrite in [true, false] {
        let grads = FloatBuffer(count: model.layout.totalCount)
        let net = Network(model: try build(), maxBatch: batch, parameters: params, gradients: grads, seed: 1,
                          overwriteGradients: overwrite)
        let output = secondTrainingPass(net, x, batch: batch, gradients: grads)
        let overwriting = net.model.layers.compactMap { layer -> String? in
            guard let w = layer as? InputGradientOverwriting, w.overwritesInputGradient.contains(true) else { return nil }
            return "\(layer.name)\(w.overwritesInputGradient)"
        }
        results.append((output, grads.array, overwriting))
    }
    // add1 writes sr's gradient first (c1, before it, adds into it), sc
    // pool's (c3 adds); pool writes add1's gradient (zeroing each plane
    // before its scatter); the stem's input is
    // the model's (no gradient).
    #expect(results[0].overwriting == ["bn1[true]", "c2[true]", "bn2[true]", "add1[true, true]", "pool[true]", "bn3[true]", "sc[true]",
                                       "add2[true, true]"])
    #expect(results[1].overwriting.isEmpty)
    #expect(results[0].output == results[1].output)
    #expect(results[0].gradients.map(\.bitPattern) == results[1].gradients.map(\.bitPattern))
    // Not vacuous: the gradients are there. (The adding path they equal is
    // checked against finite differences by the graph model tests.)
    #expect(results[0].gradients.filter { $0 != 0 }.count > model.layout.totalCount / 2)
}

/// `trainingPass` twice, the arena's gradients zeroed in between, returning
/// the second pass's output: the second pass finds the first one's
/// gradients in the buffers the network no longer zeroes (those written
/// instead of added), so a writer that added would be caught.
func secondTrainingPass(_ net: Network, _ x: [Float], batch: Int, gradients: FloatBuffer) -> [Float] {
    _ = trainingPass(net, x, batch: batch)
    gradients.zero()
    return trainingPass(net, x, batch: batch)
}
