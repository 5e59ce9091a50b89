import Testing
import PTrain
import PTrainKernels

// Inference networks fold a max pool into the convolution it alone reads
// when that convolution's forward pass can pool its staged outputs (the tap
// GEMM's strips, Winograd's and the filter vectors' channels-last tiles;
// StoragePlan.foldedPool) and stores only the pooled planes, its bias and
// relu applied after the max. The outputs must be those of the separate layers.

/// c0: 5x5 on 24x24 planes (tap strips), relu, a padded 3x3 stride-1 pool;
/// c1: 4 -> 16 channels 5x5 (filter vectors: channels-last pooling), relu,
/// overlapping 3x3/2 pool with padding; w1: Winograd on 12x12 (no bias: a relu alone after the max),
/// the same pool; c2: strided and grouped (polyphase planes), no relu, a
/// 2x2 stride-1 pool; c3's norm keeps its pool apart (a folded norm's
/// negative scales would reverse the max's order); c4: Winograd with bias
/// and relu, a 2x2 pool.
let poolFoldingModel = """
  layers:
    - {name: c0, type: conv2d, filters: 4, kernel: 5, padding: 2}
    - {name: r0, type: relu}
    - {name: p0, type: maxpool, kernel: 3, stride: 1, padding: 1}
    - {name: c1, type: conv2d, filters: 16, kernel: 5, padding: 2}
    - {name: r1, type: relu}
    - {name: p1, type: maxpool, kernel: 3, stride: 2, padding: 1}
    - {name: w1, type: conv2d, filters: 16, kernel: 3, padding: 1, bias: false}
    - {name: rw1, type: relu}
    - {name: pw1, type: maxpool, kernel: 3, stride: 2, padding: 1}
    - {name: c2, type: conv2d, filters: 8, kernel: 3, stride: 2, padding: 1, groups: 2}
    - {name: p2, type: maxpool, kernel: 2, stride: 1}
    - {name: c3, type: conv2d, filters: 16, kernel: 3, padding: 1, bias: false}
    - {name: n3, type: batchnorm}
    - {name: r3, type: relu}
    - {name: p3, type: maxpool, kernel: 3, stride: 1, padding: 1}
    - {name: c4, type: conv2d, filters: 16, kernel: 3, padding: 1}
    - {name: r4, type: relu}
    - {name: p4, type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: dense, units: 3}
"""

@Test("an inference network folds a max pool into the convolution before it: the same outputs as separate layers, a smaller footprint (tap strips, short strips, polyphase planes, groups, filter vectors, Winograd tiles, padded and stride-1 pools)")
func poolFoldedIntoConvolution() throws {
    try checkPoolFolding(precision: .fp32)
}

@Test("bf16: a max pool folded into the bf16 tap convolution before it gives the outputs of separate layers",
      .enabled(if: BF16Support.available, "this CPU lacks AVX512_BF16"))
func poolFoldedIntoBF16Convolution() throws {
    try checkPoolFolding(precision: .bf16)
}

/// Folded and separate networks of `poolFoldingModel` in `precision`: the
/// plan, the footprint, and the outputs bit for bit.
func checkPoolFolding(precision: ComputePrecision) throws {
    let yaml = graphConfig(poolFoldingModel, input: "[3, 24, 24]")
    let folded = try buildGraph(yaml), separate = try buildGraph(yaml)
    let params = foldingParameters(folded)
    let maxBatch = 11
    let a = Network(model: folded, maxBatch: maxBatch, parameters: params, gradients: nil, seed: 1, precision: precision)
    let b = Network(model: separate, maxBatch: maxBatch, parameters: params, gradients: nil, seed: 1, foldPools: false,
                    precision: precision)
    let convs = folded.layers.compactMap { $0 as? Conv2D }
    #expect(convs.map { $0.foldedPool?.name } == ["p0", "p1", "pw1", "p2", nil, "p4"])
    #expect(convs.map(\.outputSampleStride) == [4 * 24 * 24, 16 * 12 * 12, 16 * 6 * 6, 8 * 2 * 2, 16 * 2 * 2, 16 * 1 * 1])
    #expect(separate.layers.allSatisfy { ($0 as? Conv2D)?.foldedPool == nil })
    // c1's 24x24x16 output (and c0's, pooled to its own size), w1's 12x12x16 and c2's 3x3x8 are never stored.
    #expect(a.storedFloatsPerSample < b.storedFloatsPerSample)
    #expect(NetworkFootprint(model: folded, maxBatch: maxBatch, training: false).bytes
            == 4 * maxBatch * (folded.inputShape.count + a.storedFloatsPerSample + 1)
               + 4 * folded.layers.reduce(0) { $0 + $1.ownedFloats(maxBatch: maxBatch) })
    for batch in [maxBatch, 3] {
        let x = testValues(batch * folded.inputShape.count, seed: UInt64(batch))
        let outputs = inferenceOutputs([a, b], x, batch: batch)
        let differing = zip(outputs[0], outputs[1]).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differing == 0, "batch \(batch): \(differing) of \(3 * batch) outputs differ")
        #expect(Set(outputs[0]).count > batch)
    }
    // The same model trains with every layer of its own: nothing is folded.
    let trainer = try buildGraph(yaml)
    _ = Network(model: trainer, maxBatch: 4, parameters: params, gradients: FloatBuffer(count: params.count), seed: 1)
    #expect(trainer.layers.allSatisfy { ($0 as? Conv2D)?.foldedPool == nil })
}
