import Testing
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainRuntime

// The bilevel architecture search (train.architecture, DARTS): alpha's step
// is Adam on the architecture half's gradient, the bits do not depend on the
// worker count or the schedule (first and second order), and a search
// resumes exactly from any checkpoint.

/// A tiny DARTS search network (3 cells of 2 nodes, 2 channels, 4 ops) on
/// synthetic 3x8x8 images, bilevel with `order`.
func bilevelConfig(order: String = "first", steps: Int = 8) -> String {
    let net = DartsNetwork(cells: 3, channels: 2, nodes: 2, input: [3, 8, 8], classes: 4)
    let model = net.searchModel(ops: [.none, .maxPool3x3, .skipConnect, .sepConv3x3], alphaStd: 0.1)
    return """
    name: bilevel
    seed: 3
    data: {dataset: synthetic, synthetic_count: 256, synthetic_classes: 4}
    train:
      epochs: 2
      steps: \(steps)
      batch: 16
      optimizer: {lr: 0.05, momentum: 0.9, weight_decay: 3.0e-4}
      architecture: {order: \(order), lr: 0.01}
    runtime: {shard: 4, bind: none}
    checkpoint: {keep: 20}
    model:
    \(model.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    """
}

@Test("bilevel search: alpha and weights are bitwise identical for 1, 2, 3 and 4 workers, static and dynamic, first and second order",
      arguments: ["first", "second"])
func bilevelBitwiseAcrossWorkers(order: String) throws {
    var runs: [[Float]] = []
    var initialAlpha: [Float] = [], range = 0..<0
    for (workers, schedule) in [(1, "static"), (2, "static"), (4, "static"), (1, "dynamic"), (2, "dynamic"), (3, "dynamic")] {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (trainer, result) = try train(bilevelConfig(order: order), overrides: ["runtime.schedule=\(schedule)"], workers: workers, in: dir)
        #expect(result.steps == 8)
        range = trainer.model.layout.architectureRange
        runs.append(trainer.parameters.array)
        if initialAlpha.isEmpty {
            let start = FloatBuffer(count: trainer.model.layout.totalCount)
            trainer.model.layout.initialize(start, seed: 3)
            initialAlpha = Array(start.array[range])
        }
    }
    for i in 1..<runs.count { #expect(runs[i] == runs[0], "run \(i) differs from 1 static worker (\(order) order)") }
    // Not vacuous: alpha moved.
    #expect(Array(runs[0][range]) != initialAlpha)
}

@Test("bilevel search: alpha's first step is Adam (betas 0.5, 0.999, weight decay) on the architecture batch's gradient")
func alphaStepIsAdamOnTheArchitectureBatch() throws {
    // One shard per batch, one worker: the engine's gradient is the network's over the batch.
    let overrides = ["train.steps=1", "runtime.shard=16"]
    let config = try RunConfig.parse(yaml: bilevelConfig(), file: "b.yaml", overrides: overrides)
    let data = try DataSources.load(config)
    let architecture = try #require(data.architecture)
    #expect(architecture.count == 128 && data.train.count == 128)
    // The reference: alpha's gradient on the architecture half's first batch, at the initial weights.
    let model = try config.model.build(classes: 4)
    let layout = model.layout
    let params = FloatBuffer(count: layout.totalCount), grads = FloatBuffer(count: layout.totalCount)
    layout.initialize(params, seed: config.seed)
    let alpha0 = Array(params.array[layout.architectureRange])
    let net = Network(model: model, maxBatch: 16, parameters: params, gradients: grads, seed: config.seed)
    let order = epochPermutation(count: architecture.count, seed: config.seed, epoch: 0, stream: .architecture)
    architecture.fill(order[0..<16], input: net.input.pointer, labels: net.labels.pointer)
    for i in 0..<16 { net.context.sampleIndices[i] = order[i] }
    net.forward(batch: 16, training: true)
    var correct = 0
    _ = net.loss(batch: 16, gradScale: 1 / 16, correct: &correct)
    net.backward(batch: 16)
    let g = Array(grads.array[layout.architectureRange])
    let lr = 0.01, b1 = 0.5, b2 = 0.999, wd = 1e-3, eps = 1e-8
    let expected = zip(alpha0, g).map { a, gi -> Double in
        let d = Double(gi) + wd * Double(a)
        let m = (1 - b1) * d, v = (1 - b2) * d * d
        return Double(a) - lr / (1 - b1) * m / ((v.squareRoot() / (1 - b2).squareRoot()) + eps)
    }
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (trainer, _) = try train(bilevelConfig(), overrides: overrides, workers: 1, in: dir)
    let got = Array(trainer.parameters.array[layout.architectureRange])
    for (i, (a, e)) in zip(got, expected).enumerated() {
        #expect(abs(Double(a) - e) <= 1e-6 * max(1, abs(e)), "alpha[\(i)]: \(a) vs Adam's \(e)")
    }
    #expect(got != alpha0)
}

@Test("bilevel search resumes exactly from a checkpoint (alpha's Adam state and count included), first and second order",
      arguments: ["first", "second"])
func bilevelResumeIsExact(order: String) throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let yaml = bilevelConfig(order: order, steps: 12)
    let overrides = ["checkpoint.every_steps=5"]
    let reference = try trainRun(yaml, overrides: overrides, workers: 1, in: dir.appendingPathComponent("reference"))
    let checkpoint = try Checkpoint.read(dir.appendingPathComponent("reference/checkpoints/\(CheckpointStore.name(step: 5))"))
    #expect(checkpoint.state.architectureSteps == 5)
    #expect(checkpoint.momentum.contains { $0.name == "arch_exp_avg.alpha_normal.n0.in0" })
    #expect(checkpoint.momentum.contains { $0.name == "arch_exp_avg_sq.alpha_reduce.n1.in2" })
    let run = dir.appendingPathComponent("resumed")
    try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
    let resumed = try trainRun(yaml, overrides: overrides, workers: 2, in: run, resume: checkpoint)
    #expect(resumed.parameters.array == reference.parameters.array, "\(order) order: resumed weights differ")
    // A checkpoint of a plain run cannot continue a search, and the reverse: the section differs.
    let plain = try trainRun(yaml.replacingOccurrences(of: "  architecture: {order: \(order), lr: 0.01}\n", with: ""),
                             overrides: overrides, workers: 1, in: dir.appendingPathComponent("plain"))
    _ = plain
    let plainCheckpoint = try Checkpoint.read(dir.appendingPathComponent("plain/checkpoints/\(CheckpointStore.name(step: 5))"))
    let config = try RunConfig.parse(yaml: yaml, file: "b.yaml", overrides: overrides)
    #expect(throws: RunError.self) {
        try Trainer.checkResume(plainCheckpoint, config: config, model: try config.model.build())
    }
    do {
        try Trainer.checkResume(plainCheckpoint, config: config, model: try config.model.build())
    } catch let e as RunError {
        #expect(e.description == "cannot resume exactly: train.architecture none vs order \(order), split 0.5, lr 0.01 (checkpoint vs config)")
    }
}

@Test("the architecture half is held out by the seed alone, apart from the weights' half and from the validation split")
func architectureSplitIsDisjoint() throws {
    let config = try RunConfig.parse(yaml: bilevelConfig(), file: "b.yaml", overrides: ["data.validation=0.25", "train.architecture.split=0.4"])
    let data = try DataSources.load(config)
    let a = try #require(data.architecture), v = try #require(data.validation)
    let sets = [data.train, a, v].map { s in Set((0..<s.count).map { s.sourceIndex($0) }) }
    #expect(sets[0].count + sets[1].count + sets[2].count == 256)
    #expect(sets[0].isDisjoint(with: sets[1]) && sets[0].isDisjoint(with: sets[2]) && sets[1].isDisjoint(with: sets[2]))
    #expect(a.count == 77 && v.count == 64)  // round(0.4 * 192), round(0.25 * 256)
    let again = try DataSources.load(config)
    #expect((0..<again.architecture!.count).map { again.architecture!.sourceIndex($0) } == (0..<a.count).map { a.sourceIndex($0) })
}

@Test("architecture.jsonl: softmax(alpha) per epoch; a resumed run's repeated epoch keeps its last line")
func architectureRecords() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (trainer, _) = try train(bilevelConfig(steps: 16), workers: 1, in: dir)
    let url = dir.appendingPathComponent(ArchitectureRecord.fileName)
    let records = try ArchitectureRecord.read(url)
    #expect(records.map(\.epoch) == [1, 2] && records.map(\.step) == [8, 16])
    let layout = trainer.model.layout
    for e in layout.architectureParameters {
        let w = try #require(records[1].softmax[e.name])
        let a = (0..<e.count).map { Double(trainer.parameters.pointer[e.offset + $0]) }
        let z = a.map { exp($0 - a.max()!) }
        #expect(zip(w, z).allSatisfy { abs($0 - $1 / z.reduce(0, +)) < 1e-12 }, "\(e.name)")
    }
    // An epoch written twice (a resume) reads as its last line.
    let text = try String(contentsOf: url, encoding: .utf8)
    let replaced = text + text.split(separator: "\n")[0].replacingOccurrences(of: "\"step\":8", with: "\"step\":9") + "\n"
    try replaced.write(to: url, atomically: true, encoding: .utf8)
    #expect(try ArchitectureRecord.read(url).map(\.step) == [9, 16])
    try (text + "not json\n").write(to: url, atomically: true, encoding: .utf8)
    #expect(throws: RunError.self) { try ArchitectureRecord.read(url) }
}

@Test("no heap allocation inside bilevel steps after warm-up (first and second order, static and dynamic, 2 workers)",
      .serialized, arguments: [("first", "static"), ("first", "dynamic"), ("second", "static"), ("second", "dynamic")])
func bilevelNoAllocationInSteps(_ c: (order: String, schedule: String)) throws {
    let config = try RunConfig.parse(yaml: bilevelConfig(order: c.order), file: "b.yaml", overrides: ["runtime.schedule=\(c.schedule)"])
    try expectNoAllocationInSteps(config, workers: 2, session: 991 + Int64(c.order.count + c.schedule.count))
}
