import Testing
import PTrain

// Inference networks store a convolution's output as the Winograd input
// planes of the one convolution that reads it (StoragePlan.planesFor): the
// producer writes channels-last, zero-bordered planes through its folded
// norm, and the consumer reads them in place. The outputs must be bitwise
// those of NCHW storage.

/// c1 -> c2 -> c3 chain (c2 both reads and writes planes): 16 -> 32 -> 16
/// channels on 6x6 planes (two whole 16-pixel blocks and a 4-pixel tail, so
/// both of the epilogue's roundings run), c1 with bias and relu, c2's norm
/// without relu, c3 a 5x5 on 8x8 tiles (its planes overhang the image by
/// two rows and columns; c2's by two as well). c3's output has two readers and c4 adds a
/// residual: neither stores planes.
let planesModel = """
  layers:
    - {name: c1, type: conv2d, filters: 32, kernel: 3, padding: 1}
    - {name: n1, type: batchnorm}
    - {name: r1, type: relu}
    - {name: c2, type: conv2d, filters: 16, kernel: 3, padding: 1, bias: false}
    - {name: n2, type: batchnorm}
    - {name: c3, type: conv2d, filters: 16, kernel: 5, padding: 2, bias: false}
    - {name: n3, type: batchnorm}
    - {name: r3, type: relu}
    - {name: c4, type: conv2d, filters: 16, kernel: 3, padding: 1}
    - {name: n4, type: batchnorm}
    - {name: add, type: add, inputs: [n4, r3]}
    - {type: global_avgpool}
    - {type: dense, units: 3}
"""

@Test("an inference network stores a convolution's output as the Winograd input planes of its only reader, bitwise equal to NCHW storage (bias, norm with and without relu, plane tails, overhanging tiles, partial blocks)")
func winogradPlanesChain() throws {
    let yaml = graphConfig(planesModel, input: "[16, 6, 6]")
    let chained = try buildGraph(yaml), nchw = try buildGraph(yaml), unfolded = try buildGraph(yaml)
    let params = foldingParameters(chained)
    let maxBatch = 40
    let a = Network(model: chained, maxBatch: maxBatch, parameters: params, gradients: nil, seed: 1)
    let b = Network(model: nchw, maxBatch: maxBatch, parameters: params, gradients: nil, seed: 1, chainWinograd: false)
    let c = Network(model: unfolded, maxBatch: maxBatch, parameters: params, gradients: nil, seed: 1, foldNorms: false)
    let convs = chained.layers.compactMap { $0 as? Conv2D }
    #expect(convs.filter { $0.outputPlanes != nil }.map(\.name) == ["c1", "c2"])
    #expect(convs.filter { $0.inputPlanesStride != nil }.map(\.name) == ["c2", "c3"])
    // Two tiles each way: c2 reads 10x10 planes of 32 channels (6x6 tiles),
    // c3 12x12 planes of 16 (8x8 tiles); both overhang the 6x6 image.
    #expect(convs.compactMap(\.inputPlanesStride) == [10 * 10 * 32, 12 * 12 * 16])
    for net in [nchw, unfolded] {
        #expect(net.layers.allSatisfy { ($0 as? Conv2D).map { $0.outputPlanes == nil && $0.inputPlanesStride == nil } ?? true })
    }
    // The footprint of an inference network is that of its plan, planes included.
    #expect(NetworkFootprint(model: chained, maxBatch: maxBatch, training: false).bytes
            == 4 * maxBatch * (chained.inputShape.count + a.storedFloatsPerSample + 1)
               + 4 * chained.layers.reduce(0) { $0 + $1.ownedFloats(maxBatch: maxBatch) })
    // Two blocks of Winograd images and a partial one, then a short batch.
    for batch in [maxBatch, 7] {
        let x = testValues(batch * chained.inputShape.count, seed: UInt64(batch))
        let outputs = inferenceOutputs([a, b, c], x, batch: batch)
        for other in outputs.dropFirst() {
            let differing = zip(outputs[0], other).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "batch \(batch): \(differing) of \(3 * batch) outputs differ")
        }
        #expect(Set(outputs[0]).count > batch)
    }
}
