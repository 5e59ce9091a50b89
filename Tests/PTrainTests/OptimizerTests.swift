import Testing
import PTrain

/// PyTorch's SGD update written out element by element, in Double.
func referenceSGD(w: inout [Double], v: inout [Double], g: [Double], lr: Double, config c: OptimizerConfig) {
    for i in w.indices {
        var d = g[i] + c.weightDecay * w[i]
        if c.momentum != 0 {
            v[i] = c.momentum * v[i] + d
            d = c.nesterov ? d + c.momentum * v[i] : v[i]
        }
        w[i] -= lr * d
    }
}

@Test("SGD matches PyTorch's update rule over several steps",
      arguments: [OptimizerConfig(learningRate: 0.1, momentum: 0, nesterov: false, weightDecay: 0),
                  OptimizerConfig(learningRate: 0.05, momentum: 0.9, nesterov: false, weightDecay: 5e-4),
                  OptimizerConfig(learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3)])
func sgdMatchesReference(_ config: OptimizerConfig) {
    let n = 37  // SIMD body and scalar tail
    var w = testValues(n, seed: 1), v = [Float](repeating: 0, count: n)
    var wr = w.map(Double.init), vr = [Double](repeating: 0, count: n)
    let sgd = SGD(config: config)
    for step in 0..<5 {
        let g = testValues(n, seed: UInt64(10 + step))
        w.withUnsafeMutableBufferPointer { ws in g.withUnsafeBufferPointer { gs in v.withUnsafeMutableBufferPointer {
            sgd.update(parameters: ws.baseAddress!, gradients: gs.baseAddress!, velocity: $0.baseAddress!, count: n,
                       learningRate: Float(config.learningRate))
        } } }
        referenceSGD(w: &wr, v: &vr, g: g.map(Double.init), lr: config.learningRate, config: config)
    }
    for i in 0..<n { #expect(abs(Double(w[i]) - wr[i]) < 1e-5) }
}

@Test("learning-rate schedules")
func schedules() {
    func s(_ kind: ScheduleConfig.Kind, step: Double = 1, gamma: Double = 0.1, milestones: [Double] = [], minLR: Double = 0,
           warmup: Double = 0) -> LearningRateSchedule {
        LearningRateSchedule(base: 1, config: ScheduleConfig(kind: kind, stepSize: step, gamma: gamma, milestones: milestones,
                                                             minLearningRate: minLR, warmupEpochs: warmup), totalEpochs: 10)
    }
    #expect(s(.constant).rate(at: 7.3) == 1)
    let step = s(.step, step: 3, gamma: 0.5)
    #expect(step.rate(at: 2.99) == 1 && step.rate(at: 3) == 0.5 && step.rate(at: 6.5) == 0.25)
    let multi = s(.multistep, milestones: [2, 5])
    #expect(multi.rate(at: 1.9) == 1 && abs(multi.rate(at: 2) - 0.1) < 1e-12 && abs(multi.rate(at: 9) - 0.01) < 1e-12)
    let cosine = s(.cosine, minLR: 0.1)
    #expect(cosine.rate(at: 0) == 1 && abs(cosine.rate(at: 5) - 0.55) < 1e-12 && abs(cosine.rate(at: 10) - 0.1) < 1e-12)
    let warm = s(.constant, warmup: 2)
    #expect(warm.rate(at: 1) < 0.51 && warm.rate(at: 1) > 0.49 && warm.rate(at: 2) == 1 && warm.rate(at: 0) < 0.01)
}
