import Testing
import PTrain

// Inference networks fold a batch norm that is a convolution's only reader
// into the convolution's store (StoragePlan.foldedNorm, ChannelEpilogue),
// and then a residual add that reads it alone (StoragePlan.foldedResidual):
// the outputs must be bitwise those of the norm and the add run as layers.

/// Convolutions of each kind a norm can follow: a 16-channel 3x3 with bias
/// (Winograd tiles, the fused store: bias, affine and relu at once), a
/// stride-2 one (taps, the separate epilogue), a 1x1 without relu, and one
/// whose output has a second reader (not folded). Adds folded into the
/// convolution before them: `add` into c2 (its other input an identity
/// shortcut, stored as r1; Winograd's store, 10x10 planes:
/// 16-pixel blocks and a scalar tail; the add's relu after the sum) and
/// `res` into c6 (1x1, the separate join after the epilogue, with relu);
/// `join` (its inputs read elsewhere) and `late` (its other input, a
/// padded shortcut, runs after the convolution) are not.
/// c2 -> n2, added to r1 through an identity shortcut, then relu: a residual
/// join that an inference network folds into c2's Winograd store (also in
/// InferenceWeightsTests).
let residualJoinLayers = """
    - {name: c2, type: conv2d, filters: 16, kernel: 3, padding: 1, bias: false}
    - {name: n2, type: batchnorm}
    - {name: id, type: shortcut, input: r1, channels: 16, stride: 1}
    - {name: add, type: add, inputs: [n2, id]}
    - {name: ra, type: relu}
"""

let foldingModel = """
  layers:
    - {name: c1, type: conv2d, filters: 16, kernel: 3, padding: 1}
    - {name: n1, type: batchnorm}
    - {name: r1, type: relu}
\(residualJoinLayers)
    - {name: c3, type: conv2d, filters: 16, kernel: 3, stride: 2, padding: 1, bias: false}
    - {name: n3, type: batchnorm}
    - {name: r3, type: relu}
    - {name: c4, type: conv2d, filters: 8, kernel: 1}
    - {name: n4, type: batchnorm}
    - {name: c5, type: conv2d, filters: 8, kernel: 3, padding: 1}
    - {name: n5, type: batchnorm}
    - {name: r5, type: relu}
    - {name: join, type: add, inputs: [r5, c5]}
    - {name: c6, type: conv2d, filters: 8, kernel: 1, bias: false}
    - {name: n6, type: batchnorm}
    - {name: res, type: add, inputs: [n6, join]}
    - {name: r6, type: relu}
    - {name: c7, type: conv2d, filters: 16, kernel: 3, stride: 2, padding: 1, bias: false}
    - {name: n7, type: batchnorm}
    - {name: sc, type: shortcut, input: r6, channels: 16, stride: 2}
    - {name: late, type: add, inputs: [n7, sc]}
    - {type: global_avgpool}
    - {type: dense, units: 3}
"""

@Test("an inference network folds each batch norm that is a convolution's only reader, and a residual add after it, into its store, bitwise equal to running them (Winograd's fused store, the separate epilogue and join, with and without bias and relu)")
func batchNormFolding() throws {
    let yaml = graphConfig(foldingModel, input: "[16, 10, 10]")
    let folded = try buildGraph(yaml), plain = try buildGraph(yaml)
    let params = foldingParameters(folded)
    let a = Network(model: folded, maxBatch: 3, parameters: params, gradients: nil, seed: 1)
    let b = Network(model: plain, maxBatch: 3, parameters: params, gradients: nil, seed: 1, foldNorms: false)
    let names = folded.layers.compactMap { ($0 as? Conv2D).flatMap { c in c.foldedNorm.map { "\(c.name)<-\($0.name)" } } }
    #expect(names == ["c1<-n1", "c2<-n2", "c3<-n3", "c4<-n4", "c6<-n6", "c7<-n7"])
    #expect(plain.layers.allSatisfy { ($0 as? Conv2D)?.foldedNorm == nil })
    // The folded adds: the convolutions that add a residual, and its samples (id's and join's).
    let residuals = folded.layers.compactMap { layer in
        (layer as? Conv2D).flatMap { c in c.foldedResidual.map { (c.name, $0.sampleStride) } }
    }
    #expect(residuals.map(\.0) == ["c2", "c6"])
    #expect(residuals.map(\.1) == [16 * 10 * 10, 8 * 5 * 5])
    #expect(plain.layers.allSatisfy { ($0 as? Conv2D)?.foldedResidual == nil })
    // The footprint of an inference network is that of the folded plan.
    #expect(NetworkFootprint(model: folded, maxBatch: 3, training: false).bytes
            == 4 * 3 * (folded.inputShape.count + a.storedFloatsPerSample + 1)
               + 4 * folded.layers.reduce(0) { $0 + $1.ownedFloats(maxBatch: 3) })
    let x = testValues(3 * folded.inputShape.count, seed: 3)
    for net in [a, b] {
        net.input.pointer.update(from: x, count: x.count)
        net.forward(batch: 3, training: false)
    }
    let outA = Array(UnsafeBufferPointer(start: a.output, count: 9)), outB = Array(UnsafeBufferPointer(start: b.output, count: 9))
    #expect(outA == outB)
    #expect(Set(outA).count > 1)
}

/// `model`'s parameters (seed 5) with batch-norm statistics and affine maps
/// far from the identity (negative scales too), so that folding matters.
func foldingParameters(_ model: Model) -> FloatBuffer {
    let params = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 5)
    let noise = testValues(model.layout.totalCount, seed: 9)
    for entry in model.layout.entries where model.layers[entry.layerIndex] is BatchNorm {
        for i in entry.range {
            params.pointer[i] = entry.name.hasSuffix("running_var") ? 0.5 + abs(noise[i]) : noise[i]
        }
    }
    return params
}
