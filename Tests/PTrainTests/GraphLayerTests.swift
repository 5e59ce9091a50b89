import Testing
import PTrain
import PTrainKernels

// The layers of deeper architectures: batch norm, global average pooling and
// the zero-padding shortcut against finite differences; batch norm's modes
// and running statistics against their definitions. (9x9 planes: every
// loop of the gradient sums, 32 and 16 floats at a time and the rest.)

@Test("batch norm (training mode: the shard's statistics)", arguments: [(2, 3, 4, 4), (5, 2, 1, 1), (3, 4, 5, 3), (1, 2, 6, 6), (2, 2, 9, 9)])
func batchNormGradients(_ s: (Int, Int, Int, Int)) {
    let layer = BatchNorm(name: "bn", input: TensorShape(s.1, s.2, s.3))
    let r = gradientCheck(layer, batch: s.0, epsilon: 1e-2, tolerance: 3e-2)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

@Test("batch norm's backward kernels match their definition in Double (wider samples, fused relu, adding or overwriting)",
      arguments: [false, true])
func batchNormBackwardKernels(rectify: Bool) {
    // 3 samples of 5 channels of 10x10 (every loop of the sums: 32, 16 and
    // the rest), each sample 7 floats wider than its channels (a prefix of
    // a wider tensor, as DenseNet's).
    let batch = 3, channels = 5, spatial = 100, stride = channels * spatial + 7
    let x = testValues(batch * stride, seed: 11).enumerated().map { $1 + Float($0 % 7) * 0.25 }
    let dy = testValues(batch * channels * spatial, seed: 12)
    let mean = testValues(channels, seed: 13).map { $0 * 0.5 + 0.75 }, invStd = testValues(channels, seed: 14).map { 1.2 + $0 * 0.5 }
    let gamma = testValues(channels, seed: 15).map { $0 + 1.5 }
    let scale = zip(gamma, invStd).map { $0 * $1 }, shift = (0..<channels).map { Float($0) * 0.1 - mean[$0] * gamma[$0] * invStd[$0] }
    let count = Double(batch * spatial)
    func value(_ n: Int, _ c: Int, _ i: Int) -> (x: Double, g: Double) {
        let xv = x[n * stride + c * spatial + i]
        let passed = !rectify || xv * scale[c] + shift[c] > 0
        return (Double(xv), passed ? Double(dy[(n * channels + c) * spatial + i]) : 0)
    }
    var sums = [Double](repeating: .nan, count: 2 * channels)
    scale.withUnsafeBufferPointer { a in
        shift.withUnsafeBufferPointer { b in
            let relu = rectify ? RectifiedAffine(scale: a.baseAddress!, shift: b.baseAddress!) : nil
            batchNormGradientSums(x, sampleStride: stride, dy, batch: batch, channels: channels, spatial: spatial, mean: mean,
                                  rectified: relu, into: &sums)
            for c in 0..<channels {
                var s1 = 0.0, s2 = 0.0
                for n in 0..<batch { for i in 0..<spatial { let v = value(n, c, i); s1 += v.g; s2 += v.g * (v.x - Double(mean[c])) } }
                #expect(abs(sums[c] - s1) <= 1e-5 * (1 + abs(s1)), "sum(dy), channel \(c): \(sums[c]) vs \(s1)")
                #expect(abs(sums[channels + c] - s2) <= 1e-5 * (1 + abs(s2)), "sum(dy (x - mean)), channel \(c)")
            }
            for overwrite in [false, true] {
                let before: Float = overwrite ? .nan : 0.5
                var dx = [Float](repeating: before, count: batch * stride)
                batchNormInputGradient(x, sampleStride: stride, dy, &dx, batch: batch, channels: channels, spatial: spatial,
                                       mean: mean, invStd: invStd, gamma: gamma, rectified: relu, sums: sums, count: count,
                                       overwrite: overwrite)
                var worst = 0.0
                for n in 0..<batch {
                    for c in 0..<channels {
                        let r = Double(invStd[c]), k = Double(gamma[c]) * r
                        for i in 0..<spatial {
                            let v = value(n, c, i), xhat = (v.x - Double(mean[c])) * r
                            let want = (overwrite ? 0 : 0.5) + k * (v.g - sums[c] / count - xhat * sums[channels + c] * r / count)
                            worst = max(worst, abs(Double(dx[n * stride + c * spatial + i]) - want) / (1 + abs(want)))
                        }
                    }
                    // The wider samples' tails are not the layer's: untouched.
                    #expect((channels * spatial..<stride).allSatisfy { dx[n * stride + $0].bitPattern == before.bitPattern })
                }
                #expect(worst <= 1e-5, "input gradient (overwrite \(overwrite)): worst relative error \(worst)")
            }
        }
    }
}

@Test("batch norm's backward: finite differences, and it adds into dx in every channel")
func batchNormAddsInputGradient() {
    let shape = TensorShape(5, 10, 10), batch = 3, count = batch * shape.count
    let layer = BatchNorm(name: "bn", input: shape)
    let context = StepContext(seed: 1, maxBatch: batch)
    context.training = true
    layer.allocate(maxBatch: batch)
    let params: [[Float]] = [testValues(5, seed: 13).map { $0 + 1.5 }, testValues(5, seed: 14), [Float](repeating: 0, count: 5),
                             [Float](repeating: 1, count: 5)]
    let ps = params.map { v in UnsafeMutablePointer<Float>.allocate(capacity: v.count).initialized(from: v) }
    let gs = params.map { v in UnsafeMutablePointer<Float>.allocate(capacity: v.count).initialized(from: v.map { _ in 0 }) }
    defer { (ps + gs).forEach { $0.deallocate() } }
    layer.bind(parameters: ps, gradients: gs)
    let x = testValues(count, seed: 11).enumerated().map { $1 + Float($0 % 7) * 0.25 }, dy = testValues(count, seed: 12)
    var y = [Float](repeating: 0, count: count), dx = [Float](repeating: 0.5, count: count)
    layer.forward(x, &y, batch: batch, context: context)
    layer.backward(x, y, dy, &dx, batch: batch, context: context)
    // dx was 0.5 before backward: it must have been added to, in every channel.
    #expect((0..<5).allSatisfy { c in (0..<100).contains { dx[c * 100 + $0] != 0.5 } })
    let r = gradientCheck(BatchNorm(name: "bn", input: shape), batch: batch, epsilon: 1e-2, tolerance: 3e-2)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
}

@Test("batch norm's moments match their definition in Double, far from zero too",
      arguments: [(4, 3, 1), (3, 2, 7), (2, 3, 100), (5, 1, 1024)])
func batchNormMoments(_ s: (Int, Int, Int)) {
    let (batch, channels, spatial) = s
    let stride = channels * spatial + 3  // a channel prefix of wider samples
    for offset: Float in [0, 1000] {
        // Each sample's planes shifted by 2.5 n: channels whose planes have far-apart means.
        let x = testValues(batch * stride, seed: 21).enumerated().map { $1 * Float(1 + $0 % 3) + offset + Float($0 / stride) * 2.5 }
        var mean = [Float](repeating: .nan, count: channels), variance = mean
        var scratch = [Double](repeating: .nan, count: channels)
        channelMoments(x, batch: batch, channels: channels, spatial: spatial, sampleStride: stride, mean: &mean, variance: &variance,
                       scratch: &scratch)
        for c in 0..<channels {
            let values = (0..<batch).flatMap { n in (0..<spatial).map { Double(x[n * stride + c * spatial + $0]) } }
            let mu = values.reduce(0, +) / Double(values.count)
            let v = values.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(values.count)
            #expect(abs(Double(mean[c]) - mu) <= 1e-6 * max(1, abs(mu)), "channel \(c) offset \(offset)")
            #expect(abs(Double(variance[c]) - v) <= 1e-5 * v + 1e-12, "channel \(c) offset \(offset): \(variance[c]) vs \(v)")
        }
    }
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

extension UnsafeMutablePointer where Pointee == Float {
    /// This fresh allocation, holding `values`.
    func initialized(from values: [Float]) -> Self { initialize(from: values, count: values.count); return self }
}

@Test("the option-A shortcut's vectorised stride-2 rows equal the definition (forward, the scatter-add backward and its overwriting form)",
      arguments: [(3, 5, 70, 6), (2, 4, 33, 2), (1, 3, 64, 4), (2, 3, 16, 4), (1, 2, 57, 3)])
func shortcutRows(_ s: (Int, Int, Int, Int)) {
    let (c, h, w, channels) = s, batch = 2
    let layer = PaddedShortcut(name: "s", input: TensorShape(c, h, w), channels: channels, stride: 2)
    let (oh, ow) = (layer.outputShape.height, layer.outputShape.width)
    let x = testValues(batch * c * h * w, seed: 31)
    var y = [Float](repeating: .nan, count: batch * layer.outputShape.count)
    layer.forward(x, &y, batch: batch, context: StepContext(seed: 1, maxBatch: batch))
    let dy = testValues(y.count, seed: 32)
    var dx = testValues(x.count, seed: 33), expectedDx = dx
    layer.backward(x, y, dy, &dx, batch: batch, context: StepContext(seed: 1, maxBatch: batch))
    // Written instead of added: what adding into zeros gives, every pixel.
    var written = [Float](repeating: .nan, count: x.count), zeros = [Float](repeating: 0, count: x.count)
    layer.overwritesInputGradient = [true]
    layer.backward(x, y, dy, &written, batch: batch, context: StepContext(seed: 1, maxBatch: batch))
    layer.overwritesInputGradient = []
    layer.backward(x, y, dy, &zeros, batch: batch, context: StepContext(seed: 1, maxBatch: batch))
    #expect(written.map(\.bitPattern) == zeros.map(\.bitPattern))
    var expectedY = [Float](repeating: 0, count: y.count)
    for n in 0..<batch {
        for ch in 0..<c {
            for i in 0..<oh {
                for j in 0..<ow {
                    let o = n * layer.outputShape.count + ((layer.padBefore + ch) * oh + i) * ow + j
                    let k = ((n * c + ch) * h + 2 * i) * w + 2 * j
                    expectedY[o] = x[k]
                    expectedDx[k] += dy[o]
                }
            }
        }
    }
    #expect(y == expectedY)
    #expect(dx == expectedDx)
}

/// Runs `layer` forward on `x` (`batch` samples) in the given mode (and
/// backward when `dy` is given), on the given parameter and gradient values.
func runLayer(_ layer: any Layer, _ x: [Float], batch: Int, training: Bool, parameters: [[Float]],
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
    let inference = runLayer(layer, x, batch: 2, training: false, parameters: [gamma, beta, runMean, runVar], gradients: &grads)
    for (i, v) in x.enumerated() {
        let c = (i / 2) % 2
        let expected = gamma[c] * (v - runMean[c]) / (runVar[c] + 1e-5).squareRoot() + beta[c]
        #expect(abs(inference[i] - expected) < 1e-5)
    }
    // Channel 0 holds 1, 3, 5, 7: mean 4, biased variance 5, unbiased 20/3.
    // Channel 1 holds 0, 2, 4, 6: mean 3, the same variances.
    let training = runLayer(layer, x, batch: 2, training: true, parameters: [gamma, beta, runMean, runVar], gradients: &grads,
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
    momentum.apply(parameters: &whole, gradients: g, state: &v1, range: 0..<n, learningRate: 0.5, step: 1)
    let cuts = [0, 5, stats[0].offset + 2, stats[1].offset + 1, stats[1].offset + 13, n - 3, n]
    for k in 0..<cuts.count - 1 {
        momentum.apply(parameters: &sliced, gradients: g, state: &v2, range: cuts[k]..<cuts[k + 1], learningRate: 0.5, step: 1)
    }
    #expect(whole == sliced && v1 == v2)
    // Plain SGD on trainable tensors, the running average on statistics.
    let update = ParameterUpdate(optimizer: OptimizerConfig(learningRate: 0.5, momentum: 0, nesterov: false, weightDecay: 0), layout: layout)
    whole = w0
    var v = [Float](repeating: 0, count: n)
    update.apply(parameters: &whole, gradients: g, state: &v, range: 0..<n, learningRate: 0.5, step: 1)
    for i in 0..<n {
        let isStatistic = stats.contains { $0.range.contains(i) }
        let expected = isStatistic ? w0[i] + 0.1 * (g[i] - w0[i]) : w0[i] - 0.5 * g[i]
        #expect(abs(whole[i] - expected) < 1e-6, "index \(i)")
    }
    #expect(model.parameterCount == layout.entries.filter { $0.runningAverageMomentum == nil }.reduce(0) { $0 + $1.count })
}

/// (batch, channels, height, width, filters, kernel, stride, padding)
let localCases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (1, 1, 3, 3, 1, 2, 1, 0), (2, 2, 5, 4, 3, 3, 1, 1), (3, 3, 6, 6, 2, 3, 2, 0), (2, 1, 4, 4, 2, 1, 1, 0),
]

@Test("locally-connected 2-D (untied weights and biases per position)", arguments: localCases.indices)
func localGradients(_ i: Int) {
    let c = localCases[i]
    for bias in [true, false] {
        let layer = LocallyConnected2D(name: "lc", input: TensorShape(c.1, c.2, c.3), filters: c.4, kernel: (c.5, c.5),
                                       stride: (c.6, c.6), padding: (c.7, c.7), bias: bias)
        let r = gradientCheck(layer, batch: c.0)
        #expect(r.checked > 0)
        #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
    }
}

@Test("locally-connected with the same weights at every position equals a convolution")
func localMatchesConvolutionWhenTied() {
    let input = TensorShape(2, 5, 5), batch = 3
    let conv = Conv2D(name: "c", input: input, filters: 3, kernel: (3, 3), padding: (1, 1))
    let local = LocallyConnected2D(name: "l", input: input, filters: 3, kernel: (3, 3), padding: (1, 1))
    let w = testValues(3 * 2 * 9, seed: 4), b = testValues(3, seed: 5)
    let positions = local.outputShape.spatial
    var lw = [Float](), lb = [Float](repeating: 0, count: 3 * positions)
    for _ in 0..<positions { lw += w }
    for f in 0..<3 { for p in 0..<positions { lb[f * positions + p] = b[f] } }
    let x = testValues(batch * input.count, seed: 6)
    func run(_ layer: any Layer, _ params: [[Float]]) -> [Float] {
        layer.allocate(maxBatch: batch)
        let ps = params.map { v -> UnsafeMutablePointer<Float> in
            let q = UnsafeMutablePointer<Float>.allocate(capacity: v.count); q.initialize(from: v, count: v.count); return q
        }
        defer { ps.forEach { $0.deallocate() } }
        layer.bind(parameters: ps, gradients: ps)
        var y = [Float](repeating: 0, count: batch * layer.outputShape.count)
        layer.forward(x, &y, batch: batch, context: StepContext(seed: 1, maxBatch: batch))
        return y
    }
    let a = run(conv, [w, b]), l = run(local, [lw, lb])
    #expect(a.count == l.count && zip(a, l).allSatisfy { abs($0 - $1) < 1e-5 })
    #expect(local.parameterSpecs[0].shape == [5, 5, 3, 2, 3, 3] && local.parameterSpecs[1].shape == [3, 5, 5])
}

@Test("conv1d (stride, padding, groups) and reshape", arguments: [(2, 3, 7, 4, 3, 1, 1, 1), (1, 4, 9, 2, 5, 2, 2, 2), (3, 2, 4, 2, 1, 1, 0, 1)])
func conv1dGradients(_ c: (Int, Int, Int, Int, Int, Int, Int, Int)) {
    let layer = Conv1D(name: "c", input: TensorShape(c.1, 1, c.2), filters: c.3, kernel: c.4, stride: c.5, padding: c.6, groups: c.7)
    #expect(layer.parameterSpecs[0].shape == [c.3, c.1 / c.7, c.4])
    #expect(layer.outputShape == TensorShape(c.3, 1, (c.2 + 2 * c.6 - c.4) / c.5 + 1))
    let r = gradientCheck(layer, batch: c.0)
    #expect(r.checked > 0)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(3))")
    let reshape = Reshape(name: "r", input: TensorShape(1, c.1, c.2), output: TensorShape(c.1, 1, c.2))
    let rr = gradientCheck(reshape, batch: c.0)
    #expect(rr.checked > 0 && rr.mismatches.isEmpty)
}

@Test("conv1d, local2d and reshape config errors", arguments: [
    ("{type: conv1d, filters: 2, kernel: 3}", "t.yaml:6:7: model.layers[0]: (conv1d) conv1d reads [channels, length] samples, but the input is 2x6x6 (reshape it first)"),
    ("{type: reshape, shape: [5, 5]}", "t.yaml:6:7: model.layers[0]: (reshape) shape 5x5 holds 25 values but the input 2x6x6 holds 72"),
    ("{type: reshape, shape: [4294967296, 4294967296, 4294967296]}", "t.yaml:6:31: model.layers[0].shape[0]: expected an integer in [1, 2147483647], found '4294967296'"),
    ("{type: local2d, filters: 2, kernel: 7}", "t.yaml:6:7: model.layers[0]: (local2d) kernel 7x7 does not fit the input 2x6x6 padded by 0x0 (6x6)"),
])
func newLayerConfigErrors(_ c: (layer: String, message: String)) {
    #expect(configError(graphConfig("  layers:\n    - \(c.layer)\n    - {type: dense, units: 3}")) == c.message)
}
