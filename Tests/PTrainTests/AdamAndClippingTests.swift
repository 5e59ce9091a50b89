import Foundation
import Testing
import PTrain

/// PyTorch's Adam / AdamW update written out element by element, in Double,
/// at update number `t` (1-based).
func referenceAdam(w: inout [Double], m: inout [Double], v: inout [Double], g: [Double], lr: Double, t: Int,
                   config c: OptimizerConfig) {
    let (b1, b2) = c.betas
    for i in w.indices {
        var d = g[i]
        if c.kind == .adamw { w[i] *= 1 - lr * c.weightDecay } else { d += c.weightDecay * w[i] }
        m[i] = b1 * m[i] + (1 - b1) * d
        v[i] = b2 * v[i] + (1 - b2) * d * d
        let mHat = m[i] / (1 - pow(b1, Double(t))), vHat = v[i] / (1 - pow(b2, Double(t)))
        w[i] -= lr * mHat / (vHat.squareRoot() + c.eps)
    }
}

@Test("Adam and AdamW match PyTorch's update rule over several steps",
      arguments: [OptimizerConfig(kind: .adam, learningRate: 0.01),
                  OptimizerConfig(kind: .adam, learningRate: 0.003, weightDecay: 0.01, betas: (0.8, 0.99), eps: 1e-6),
                  OptimizerConfig(kind: .adamw, learningRate: 0.01, weightDecay: 0.1)])
func adamMatchesReference(_ config: OptimizerConfig) {
    let n = 37  // SIMD body and tail
    var w = testValues(n, seed: 1), m = [Float](repeating: 0, count: n), v = m
    var wr = w.map(Double.init), mr = [Double](repeating: 0, count: n), vr = mr
    let adam = Adam(config: config)
    for t in 1...6 {
        let g = testValues(n, seed: UInt64(10 + t)).map { $0 * Float(t) }
        w.withUnsafeMutableBufferPointer { ws in g.withUnsafeBufferPointer { gs in m.withUnsafeMutableBufferPointer { ms in
            v.withUnsafeMutableBufferPointer {
                adam.update(parameters: ws.baseAddress!, gradients: gs.baseAddress!, firstMoment: ms.baseAddress!,
                            secondMoment: $0.baseAddress!, count: n, learningRate: Float(config.learningRate), step: t, gradientScale: 1)
            } } } }
        referenceAdam(w: &wr, m: &mr, v: &vr, g: g.map(Double.init), lr: config.learningRate, t: t, config: config)
    }
    for i in 0..<n {
        #expect(abs(Double(w[i]) - wr[i]) < 1e-5, "w[\(i)]")
        #expect(abs(Double(m[i]) - mr[i]) < 1e-5 && abs(Double(v[i]) - vr[i]) < 1e-5, "moments[\(i)]")
    }
    // Not vacuous: the parameters moved by more than the tolerance.
    #expect(zip(w, testValues(n, seed: 1)).contains { abs($0 - $1) > 1e-3 })
}

/// A layout of a dense layer and a batch norm (running statistics), frozen or not.
func updateLayout() throws -> ParameterLayout {
    let config = try RunConfig.parse(yaml: baseConfig.replacingOccurrences(of: "    - {type: relu}\n", with: "    - {type: batchnorm}\n"),
                                     file: "t.yaml")
    return try config.model.build().layout
}

@Test("Adam through ParameterUpdate: any slicing gives the same bits; frozen layers keep their weights and state; statistics still average")
func adamParameterUpdate() throws {
    let layout = try updateLayout()
    let n = layout.totalCount
    let conv = layout.entries.filter { $0.layerIndex == 0 }.map(\.range), stats = layout.runningStatistics.map(\.range)
    let w0 = testValues(n, seed: 3), g = testValues(n, seed: 4)
    let adam = OptimizerConfig(kind: .adamw, learningRate: 0.01, weightDecay: 0.1)
    let whole = ParameterUpdate(optimizer: adam, layout: layout), frozen = ParameterUpdate(optimizer: adam, layout: layout, frozenLayers: [0])
    #expect(whole.stateCount == 2 * n)
    var a = w0, b = w0, c = w0
    var sa = [Float](repeating: 0.5, count: 2 * n), sb = sa, sc = sa
    let cuts = [0, 7, stats[0].lowerBound + 3, n - 5, n]
    for step in 1...3 {
        whole.apply(parameters: &a, gradients: g, state: &sa, range: 0..<n, learningRate: 0.01, step: step, gradientScale: 0.5)
        for k in 0..<cuts.count - 1 {
            whole.apply(parameters: &b, gradients: g, state: &sb, range: cuts[k]..<cuts[k + 1], learningRate: 0.01, step: step, gradientScale: 0.5)
        }
        frozen.apply(parameters: &c, gradients: g, state: &sc, range: 0..<n, learningRate: 0.01, step: step, gradientScale: 0.5)
    }
    #expect(a == b && sa == sb)
    for r in conv {
        #expect(Array(c[r]) == Array(w0[r]) && Array(sc[r]) == [Float](repeating: 0.5, count: r.count), "frozen \(r)")
        #expect(Array(a[r]) != Array(w0[r]), "unfrozen \(r)")
        #expect(Array(sc[(n + r.lowerBound)..<(n + r.upperBound)]) == [Float](repeating: 0.5, count: r.count))
    }
    for r in stats { #expect(Array(c[r]) == Array(a[r]) && Array(c[r]) != Array(w0[r]), "statistics \(r)") }
    #expect(frozen.trainableRanges.allSatisfy { t in !conv.contains(t) && !stats.contains(t) })
}

@Test("clip_grad_norm: the global norm of the trainable gradients, the same bits however the arena is sliced; PyTorch's factor")
func gradientClipping() {
    let ranges = [0..<5000, 5008..<5100, 6000..<14500]
    let clip = GradientClipping(maxNorm: 2, ranges: ranges)
    #expect(clip.blocks.count == 2 + 1 + 3)
    let g = testValues(15000, seed: 9)
    var reference = 0.0
    for r in ranges { for i in r { reference += Double(g[i]) * Double(g[i]) } }
    reference = reference.squareRoot()
    func norm(_ slices: [Range<Int>]) -> Double {
        var sums = [Double](repeating: .nan, count: clip.blocks.count)
        g.withUnsafeBufferPointer { gs in for s in slices { clip.blockSums(gs.baseAddress!, startingIn: s, into: &sums) } }
        return clip.norm(sums)
    }
    let one = norm([0..<15000])
    #expect(abs(one - reference) < 1e-9 * reference)
    #expect(one.bitPattern == norm([0..<4096, 4096..<7008, 7008..<15000]).bitPattern)
    #expect(clip.coefficient(norm: one) == Float(2 / (one + 1e-6)))
    #expect(clip.coefficient(norm: 1.5) == 1)
}

@Test("label smoothing: the loss is PyTorch's -sum q log softmax with q = (1-e) onehot + e/K, and its gradient matches finite differences")
func labelSmoothing() {
    let batch = 4, classes = 6, e: Float = 0.1
    var logits = testValues(batch * classes, seed: 4).map { $0 * 3 }
    let labels = (0..<batch).map { Int32(($0 * 5) % classes) }
    func value(_ d: UnsafeMutablePointer<Float>? = nil) -> Double {
        var c = 0
        return Double(logits.withUnsafeBufferPointer { z in labels.withUnsafeBufferPointer {
            LossKind.softmaxCrossEntropy.evaluate(z.baseAddress!, labels: $0.baseAddress!, batch: batch, outputs: classes, gradScale: 1,
                                                  labelSmoothing: e, d, correct: &c)
        } })
    }
    var expected = 0.0
    for n in 0..<batch {
        let z = logits[(n * classes)..<((n + 1) * classes)].map(Double.init)
        let logZ = log(z.map { exp($0) }.reduce(0, +))
        for k in 0..<classes {
            let q = (k == Int(labels[n]) ? 1 - Double(e) : 0) + Double(e) / Double(classes)
            expected -= q * (z[k] - logZ)
        }
    }
    #expect(abs(value() - expected) < 1e-4 * expected)
    var d = [Float](repeating: 0, count: logits.count)
    _ = d.withUnsafeMutableBufferPointer { value($0.baseAddress!) }
    let h: Float = 1e-2
    for i in logits.indices {
        let saved = logits[i]
        logits[i] = saved + h; let plus = value()
        logits[i] = saved - h; let minus = value()
        logits[i] = saved
        let numeric = (plus - minus) / (2 * Double(h))
        #expect(abs(numeric - Double(d[i])) < 1e-3, "logit \(i): \(d[i]) vs \(numeric)")
    }
}

@Test("optimizer, clipping, smoothing, init_from and freeze keys decode; wrong ones are refused with a located message")
func optimizerConfigKeys() throws {
    let adam = baseConfig.replacingOccurrences(of: "optimizer: {lr: 0.1, momentum: 0.9}",
        with: "optimizer: {type: adamw, lr: 0.001, betas: [0.8, 0.99], eps: 1.0e-6, weight_decay: 0.01}\n  clip_grad_norm: 5\n  label_smoothing: 0.1\n  init_from: ../w/pre.safetensors\n  freeze: ['0']")
    let c = try RunConfig.parse(yaml: adam, file: "/runs/cfg/t.yaml")
    #expect(c.train.optimizer == OptimizerConfig(kind: .adamw, learningRate: 0.001, weightDecay: 0.01, betas: (0.8, 0.99), eps: 1e-6))
    #expect(c.train.clipGradNorm == 5 && c.train.labelSmoothing == 0.1 && c.train.freeze == ["0"])
    #expect(c.train.initFrom == "/runs/w/pre.safetensors")
    let defaults = try RunConfig.parse(yaml: baseConfig.replacingOccurrences(of: "momentum: 0.9", with: "type: adam"), file: "t.yaml")
    #expect(defaults.train.optimizer.betas == (0.9, 0.999) && defaults.train.optimizer.eps == 1e-8)
    #expect(defaults.resolvedYAML.contains("betas: [0.9, 0.999]"))
    #expect(configError(baseConfig.replacingOccurrences(of: "momentum: 0.9", with: "type: adam, momentum: 0.9"))
            == "t.yaml:15:36: train.optimizer.momentum: unknown key (expected one of: betas, eps, lr, type, weight_decay)")
    #expect(configError(baseConfig.replacingOccurrences(of: "momentum: 0.9", with: "type: adam, betas: [0.9]"))
            == "t.yaml:15:43: train.optimizer.betas: expected a list of 2 numbers, found a list of 1 item")
    #expect(configError(baseConfig + "\n  freeze: ['0', conv]")
            == "t.yaml:16:17: train.freeze[1]: unknown layer 'conv' (the model's layers: 0, 1, 2, 3, 4)")
    let binary = baseConfig.replacingOccurrences(of: "dataset: synthetic", with: "dataset: synthetic\n  synthetic_classes: 2")
        .replacingOccurrences(of: "  layers:", with: "  loss: binary_logistic\n  layers:")
        .replacingOccurrences(of: "units: 10", with: "units: 1")
    #expect(configError(binary + "\n  label_smoothing: 0.1")
            == "t.yaml:18:20: train.label_smoothing: label smoothing applies to the softmax_cross_entropy loss; this model's loss is binary_logistic")
}
