import Testing
import PTrain

// A max pool that alone reads a relu fused into the convolution before it
// applies the relu's gradient mask as it routes its gradients, and writes
// its input gradient instead of adding into a zeroed buffer
// (`StoragePlan.poolMasks`, `MaxPool2D.masksRectifiedInput`): bitwise the
// gradients of the separate layers.

/// c0 -> relu -> overlapping 3x3/2 pool with padding (several windows per
/// input: a masked position must lose all of them); c1 -> relu -> 2x2 pool;
/// c2 -> relu read by a pool and by a join (not masked: the join's gradient
/// needs the mask too); a pool after a plain conv (no relu: nothing to mask).
let poolMaskModel = """
  layers:
    - {name: c0, type: conv2d, filters: 8, kernel: 3, padding: 1}
    - {name: r0, type: relu}
    - {name: p0, type: maxpool, kernel: 3, stride: 2, padding: 1}
    - {name: c1, type: conv2d, filters: 8, kernel: 3, padding: 1}
    - {name: r1, type: relu}
    - {name: p1, type: maxpool, kernel: 2}
    - {name: c2, type: conv2d, filters: 8, kernel: 3, padding: 1}
    - {name: r2, type: relu}
    - {name: p2, type: maxpool, kernel: 3, stride: 1, padding: 1}
    - {name: j2, type: add, inputs: [p2, r2]}
    - {name: c3, type: conv2d, filters: 8, kernel: 1}
    - {name: p3, type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: dense, units: 3}
"""

@Test("a max pool masks the gradient of the relu fused before it: bitwise the gradients of the separate layers, only where the pool alone reads the relu")
func poolMasksRectifiedGradient() throws {
    let yaml = graphConfig(poolMaskModel, input: "[3, 12, 12]")
    let build = { try buildGraph(yaml) }
    let model = try build()
    let params = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 11)
    let batch = 4
    let x = testValues(batch * model.inputShape.count, seed: 23)
    var results: [(output: [Float], gradients: [Float], masking: [String], skipping: [String])] = []
    for fuse in [true, false] {
        let grads = FloatBuffer(count: model.layout.totalCount)
        // Not routed (`Conv2D.routedPool`): c0's weight gradient would sum the same terms in another order.
        let net = Network(model: try build(), maxBatch: batch, parameters: params, gradients: grads, seed: 1, fuseReLU: fuse,
                          routePoolGradients: false)
        let output = secondTrainingPass(net, x, batch: batch, gradients: grads)   // stale gradients in the pools' buffers
        let layers = net.model.layers
        results.append((output, grads.array,
                        layers.compactMap { ($0 as? MaxPool2D)?.masksRectifiedInput == true ? $0.name : nil },
                        layers.compactMap { ($0 as? Conv2D)?.readerMasksGradient == true ? $0.name : nil }))
    }
    #expect(results[0].masking == ["p0", "p1"])
    #expect(results[0].skipping == ["c0", "c1"])
    #expect(results[1].masking.isEmpty && results[1].skipping.isEmpty)
    #expect(results[0].output == results[1].output)
    #expect(results[0].gradients.map(\.bitPattern) == results[1].gradients.map(\.bitPattern))
    // Not vacuous: the gradients are there.
    #expect(results[0].gradients.filter { $0 != 0 }.count > model.layout.totalCount / 2)
}
