import Testing
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainRuntime

@Test("Jacobi eigenvalues of symmetric matrices: a 2x2 by hand, and Q D Q^T built from rotations")
func jacobiEigenvalues() {
    #expect(symmetricEigenvalues([2, 1, 1, 2], n: 2).map { ($0 * 1e12).rounded() / 1e12 } == [1, 3])
    // A = Q diag(d) Q^T with Q a product of plane rotations.
    let n = 5, d: [Double] = [0.001, 0.5, 2, 3, 40]
    var q = [Double](repeating: 0, count: n * n)
    for i in 0..<n { q[i * n + i] = 1 }
    for (p, r, angle) in [(0, 1, 0.3), (1, 3, 1.1), (2, 4, -0.7), (0, 4, 0.5), (3, 2, 2.0)] {
        let c = cos(angle), s = sin(angle)
        for k in 0..<n {
            let a = q[k * n + p], b = q[k * n + r]
            q[k * n + p] = c * a - s * b
            q[k * n + r] = s * a + c * b
        }
    }
    var a = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { for k in 0..<n { a[i * n + j] += q[i * n + k] * d[k] * q[j * n + k] } } }
    let e = symmetricEigenvalues(a, n: n)
    for (x, y) in zip(e, d) { #expect(abs(x - y) < 1e-9 * 40, "\(e) vs \(d)") }
}

@Test("NTK: the kernel's diagonal is each sample's own squared loss-gradient norm, computed alone; trace = sum of eigenvalues")
func ntkKernelMatchesPerSampleGradients() throws {
    // No batch norm: a sample's gradient does not depend on the others in its batch.
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let n = 6
    let result = try NTKScore.compute(config: config, train: data.train, samples: n)
    let model = try config.model.build(classes: data.train.classes)
    let parameters = FloatBuffer(count: model.layout.totalCount), gradients = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(parameters, seed: config.seed)
    let alone = Network(model: model, maxBatch: 1, parameters: parameters, gradients: gradients, seed: config.seed)
    let order = epochPermutation(count: data.train.count, seed: config.seed, epoch: 0)
    var rows: [[Float]] = []
    for i in 0..<n {
        [order[i]].withUnsafeBufferPointer {
            data.train.fill($0, input: alone.input.pointer, labels: alone.labels.pointer, epoch: 0, seed: config.seed)
        }
        gradients.zero()
        var correct = 0
        alone.forward(batch: 1, training: false)  // dropout off, as in the score
        _ = alone.loss(batch: 1, gradScale: 1, correct: &correct)
        alone.backward(batch: 1)
        rows.append(gradients.array)
    }
    for i in 0..<n {
        for j in 0..<n {
            let dot = zip(rows[i], rows[j]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(result.kernel[i * n + j] - dot) <= 1e-4 * max(abs(dot), 1e-6), "Theta[\(i)][\(j)]")
        }
    }
    let trace = (0..<n).reduce(0.0) { $0 + result.kernel[$1 * n + $1] }
    #expect(abs(result.eigenvalues.reduce(0, +) - trace) < 1e-9 * trace)
    #expect(result.conditionNumber >= 1 && result.conditionNumber.isFinite)
}

@Test("NTK score: too few or too many samples is an error")
func ntkSampleCount() throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    #expect(throws: RunError("the NTK score needs 2 to 64 samples (the training set's size), found 1")) {
        _ = try NTKScore.compute(config: config, train: data.train, samples: 1)
    }
}

@Test("Spearman: monotone, reversed, ties, constant")
func spearmanCorrelation() {
    #expect(spearman([1, 2, 3, 4], [10, 20, 25, 100]) == 1)
    #expect(spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1)
    #expect(abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 0.9486832980505138) < 1e-12)
    #expect(spearman([1, 1, 1], [1, 2, 3]).isNaN)
}

@Test("NTK ranking: planned trials of Hyperband R=9, eta=3 are 9 + 5 + 3; agreement needs 4 trials per budget")
func ntkPlannedTrials() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    try tinyConfig.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
    let file = dir.appendingPathComponent("s.yaml")
    try """
    base: tiny.yaml
    metric: test_top1
    method: {type: hyperband, max_epochs: 9, eta: 3, seed: 4}
    space:
      train.optimizer.lr: {loguniform: [0.01, 0.3]}
    """.write(to: file, atomically: true, encoding: .utf8)
    let spec = try SearchSpec.load(file: file.path)
    let planned = try SearchNTKRanking.plannedTrials(spec)
    #expect(planned.map(\.trial) == Array(0..<17))
    let scores = (0..<5).map { SearchNTKRanking.Score(trial: $0, values: planned[$0].values, conditionNumber: pow(10, Double($0))) }
    func record(_ t: Int, _ e: Int, _ m: Double) -> TrialRecord {
        TrialRecord(trial: t, epochs: e, values: [], metric: m, seconds: 1, status: "ok", placement: "all cores")
    }
    // Better-conditioned trials (lower numbers) trained better: perfect negative agreement at 1 epoch; 3 epochs has too few.
    let records = (0..<5).map { record($0, 1, 0.9 - 0.1 * Double($0)) } + [record(0, 3, 0.95), record(1, 3, 0.9)]
    #expect(SearchNTKRanking.agreement(scores, records: records) == [.init(epochs: 1, trials: 5, spearman: -1)])
}
