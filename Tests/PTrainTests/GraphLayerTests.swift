import Testing
import PTrain

// The layers of deeper architectures: batch norm, global average pooling and
// the zero-padding shortcut against finite differences; batch norm's modes
// and running statistics against their definitions.

@Test("batch norm (training mode: the shard's statistics)", arguments: [(2, 3, 4, 4), (5, 2, 1, 1), (3, 4, 5, 3), (1, 2, 6, 6)])
func batchNormGradients(_ s: (Int, Int, Int, Int)) {
    let layer = BatchNorm(name: "bn", input: TensorShape(s.1, s.2, s.3))
    let r = gradientCheck(layer, batch: s.0, epsilon: 1e-2, tolerance: 3e-2)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

@Test("global average pooling and the option-A shortcut (identity, strided, zero-padded, odd sizes)")
func poolingAndShortcutGradients() {
    let layers: [any Layer] = [
        GlobalAvgPool(name: "gap", input: TensorShape(3, 5, 7)),
        GlobalAvgPool(name: "gap", input: TensorShape(4, 1, 1)),
        PaddedShortcut(name: "s", input: TensorShape(3, 4, 4), channels: 3, stride: 1),
        PaddedShortcut(name: "s", input: TensorShape(2, 7, 5), channels: 4, stride: 2),
        PaddedShortcut(name: "s", input: TensorShape(2, 6, 6), channels: 5, stride: 3),
    ]
    for layer in layers {
        let r = gradientCheck(layer, batch: 2)
        #expect(r.checked > 0)
        #expect(r.mismatches.isEmpty, "\(layer.detail): \(r.mismatches.prefix(3))")
    }
}

@Test("the option-A shortcut subsamples and pads channels evenly with zeros")
func shortcutValues() {
    let layer = PaddedShortcut(name: "s", input: TensorShape(2, 3, 3), channels: 6, stride: 2)
    #expect(layer.outputShape == TensorShape(6, 2, 2) && layer.padBefore == 2)
    let x = (0..<18).map(Float.init)
    var y = [Float](repeating: 7, count: 24)
    layer.forward(x, &y, batch: 1, context: StepContext(seed: 1, maxBatch: 1))
    #expect(y == [0, 0, 0, 0, 0, 0, 0, 0] + [0, 2, 6, 8, 9, 11, 15, 17] + [0, 0, 0, 0, 0, 0, 0, 0])
}

/// Runs `layer` forward on `x` (`batch` samples) in the given mode.
private func run(_ layer: any Layer, _ x: [Float], batch: Int, training: Bool, parameters: [[Float]],
                 gradients: inout [[Float]], gradScale: Float = 0, backward dy: [Float]? = nil) -> [Float] {
    let context = StepContext(seed: 1, maxBatch: batch)
    context.training = training
    context.gradScale = gradScale
    layer.allocate(maxBatch: batch)
    let ps = parameters.map { v -> UnsafeMutablePointer<Float> in
        let q = UnsafeMutablePointer<Float>.allocate(capacity: v.count); q.initialize(from: v, count: v.count); return q
    }
    let gs = gradients.map { v -> UnsafeMutablePointer<Float> in
        let q = UnsafeMutablePointer<Float>.allocate(capacity: v.count); q.initialize(from: v, count: v.count); return q
    }
    defer { ps.forEach { $0.deallocate() }; gs.forEach { $0.deallocate() } }
    layer.bind(parameters: ps, gradients: gs)
    var y = [Float](repeating: 0, count: batch * layer.outputShape.count)
    layer.forward(x, &y, batch: batch, context: context)
    if let dy { layer.backward(x, y, dy, nil, batch: batch, context: context) }
    gradients = gradients.indices.map { Array(UnsafeBufferPointer(start: gs[$0], count: gradients[$0].count)) }
    return y
}

@Test("batch norm inference uses the running statistics; training reports the shard's mean and unbiased variance")
func batchNormModesAndStatistics() {
    let layer = BatchNorm(name: "bn", input: TensorShape(2, 1, 2))
    let gamma: [Float] = [2, 0.5], beta: [Float] = [1, -1], runMean: [Float] = [0.5, -2], runVar: [Float] = [4, 0.25]
    let x: [Float] = [1, 3, 0, 2,   5, 7, 4, 6]  // 2 samples x 2 channels x 2 positions
    var grads = [[Float]](repeating: [0, 0], count: 4)
    let inference = run(layer, x, batch: 2, training: false, parameters: [gamma, beta, runMean, runVar], gradients: &grads)
    for (i, v) in x.enumerated() {
        let c = (i / 2) % 2
        let expected = gamma[c] * (v - runMean[c]) / (runVar[c] + 1e-5).squareRoot() + beta[c]
        #expect(abs(inference[i] - expected) < 1e-5)
    }
    // Channel 0 holds 1, 3, 5, 7: mean 4, biased variance 5, unbiased 20/3.
    // Channel 1 holds 0, 2, 4, 6: mean 3, the same variances.
    let training = run(layer, x, batch: 2, training: true, parameters: [gamma, beta, runMean, runVar], gradients: &grads,
                       gradScale: 1 / 8, backward: [Float](repeating: 0, count: 8))
    #expect(abs(training[0] - (2 * (1 - 4) / (5 + 1e-5).squareRoot() + 1)) < 1e-5)
    // gradScale * batch = 1/4 of the global batch's statistics come from this shard.
    #expect(abs(grads[2][0] - 4.0 / 4) < 1e-6 && abs(grads[2][1] - 3.0 / 4) < 1e-6)
    #expect(abs(grads[3][0] - Float(20.0 / 3 / 4)) < 1e-5 && abs(grads[3][1] - Float(20.0 / 3 / 4)) < 1e-5)
    #expect(layer.parameterCount == 4)  // weight and bias; the running statistics are state
}

@Test("the optimizer steps trainable tensors and averages running statistics, for any slice boundaries")
func parameterUpdateWithStatistics() throws {
    let config = try RunConfig.parse(yaml: baseConfig.replacingOccurrences(of: "    - {type: relu}\n", with: "    - {type: batchnorm}\n"),
                                      file: "t.yaml")
    let model = try config.model.build()
    let layout = model.layout
    let stats = layout.runningStatistics
    #expect(stats.map(\.name) == ["1.running_mean", "1.running_var"])
    let n = layout.totalCount
    let w0 = (0..<n).map { Float($0 % 7) * 0.1 }, g = (0..<n).map { Float($0 % 5) * 0.01 }
    // With momentum and weight decay: one pass over everything gives the same
    // bits as slices cut anywhere (inside a statistic tensor, off the SIMD
    // grid), as the workers' slices do.
    let momentum = ParameterUpdate(optimizer: OptimizerConfig(learningRate: 0.5, momentum: 0.9, nesterov: true, weightDecay: 1e-3),
                                   layout: layout)
    var whole = w0, sliced = w0
    var v1 = g.map { $0 * 3 }, v2 = v1
    momentum.apply(parameters: &whole, gradients: g, velocity: &v1, range: 0..<n, learningRate: 0.5)
    let cuts = [0, 5, stats[0].offset + 2, stats[1].offset + 1, stats[1].offset + 13, n - 3, n]
    for k in 0..<cuts.count - 1 {
        momentum.apply(parameters: &sliced, gradients: g, velocity: &v2, range: cuts[k]..<cuts[k + 1], learningRate: 0.5)
    }
    #expect(whole == sliced && v1 == v2)
    // Plain SGD on trainable tensors, the running average on statistics.
    let update = ParameterUpdate(optimizer: OptimizerConfig(learningRate: 0.5, momentum: 0, nesterov: false, weightDecay: 0), layout: layout)
    whole = w0
    var v = [Float](repeating: 0, count: n)
    update.apply(parameters: &whole, gradients: g, velocity: &v, range: 0..<n, learningRate: 0.5)
    for i in 0..<n {
        let isStatistic = stats.contains { $0.range.contains(i) }
        let expected = isStatistic ? w0[i] + 0.1 * (g[i] - w0[i]) : w0[i] - 0.5 * g[i]
        #expect(abs(whole[i] - expected) < 1e-6, "index \(i)")
    }
    #expect(model.parameterCount == layout.entries.filter { $0.runningAverageMomentum == nil }.reduce(0) { $0 + $1.count })
}
