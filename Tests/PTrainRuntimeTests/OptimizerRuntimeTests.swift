import Testing
import Foundation
import PTrain
import PTrainData
import PTrainRuntime
import CMallocCounter
import PTrainReporting
import Synchronization

/// `tinyConfig` trained by AdamW with clipping (engaged: the norm exceeds
/// 0.05) and label smoothing.
let adamTinyConfig = tinyConfig.replacingOccurrences(of: "optimizer: {lr: 0.1, momentum: 0.9}",
    with: "optimizer: {type: adamw, lr: 0.01, weight_decay: 0.01}\n  clip_grad_norm: 0.05\n  label_smoothing: 0.1")

@Test("Adam with clipping and label smoothing: weights bitwise identical for 1 and 2 workers, static or dynamic; clipping changes them")
func adamBitwiseAcrossWorkerCounts() throws {
    var weights: [[Float]] = []
    for (workers, schedule) in [(1, "static"), (2, "static"), (2, "dynamic")] {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (trainer, result) = try train(adamTinyConfig, overrides: shardedOverrides + ["runtime.schedule=\(schedule)"], workers: workers, in: dir)
        #expect(result.steps == 8)
        weights.append(trainer.parameters.array)
    }
    #expect(weights[1] == weights[0] && weights[2] == weights[0])
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (unclipped, _) = try train(adamTinyConfig.replacingOccurrences(of: "  clip_grad_norm: 0.05\n", with: ""),
                                   overrides: shardedOverrides, workers: 1, in: dir)
    #expect(unclipped.parameters.array != weights[0])
}

@Test("through a network: an engine step of AdamW with clipping is the textbook update of the step's reduced gradient")
func engineStepIsTextbookAdamW() throws {
    let config = try RunConfig.parse(yaml: adamTinyConfig, file: "tiny.yaml", overrides: shardedOverrides)
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 2)
    let before = engine.parameters.array
    engine.beginEpoch(0)
    #expect(engine.steps(first: 0, count: 1, learningRate: { _ in 0.01 }).completed == 1)
    let n = engine.model.layout.totalCount
    let g = Array(UnsafeBufferPointer(start: engine.lastGradient, count: n)).map(Double.init)
    let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
    #expect(norm > 0.05, "clipping must be engaged")
    let c = 0.05 / (norm + 1e-6), lr = 0.01, wd = 0.01, eps = 1e-8
    let after = engine.parameters.array
    for i in 0..<n {
        // Update 1: m-hat = g and v-hat = g^2 (bias-corrected), so the step is lr * g / (|g| + eps).
        let gi = c * g[i]
        let expected = Double(before[i]) * (1 - lr * wd) - lr * gi / (abs(gi) + eps)
        #expect(abs(Double(after[i]) - expected) < 1e-6, "parameter \(i): \(after[i]) vs \(expected)")
    }
}

@Test("no heap allocation in Adam steps with clipping (2 workers, static and averaging)", .serialized, arguments: ["static", "averaging"])
func adamStepsDoNotAllocate(_ mode: String) throws {
    var overrides = shardedOverrides + ["train.epochs=20"]
    overrides.append(mode == "averaging" ? "runtime.sync.every=2" : "runtime.schedule=static")
    let config = try RunConfig.parse(yaml: adamTinyConfig, file: "tiny.yaml", overrides: overrides)
    try expectNoAllocationInSteps(config, workers: 2, session: Int64(300 + mode.count))
}

/// `tinyConfig` with `line` added to its `train:` section.
func tinyConfig(train line: String) -> String {
    tinyConfig.replacingOccurrences(of: "  batch: 16\n", with: "  batch: 16\n  \(line)\n")
}

/// `resumableConfig` (and its averaging variant) trained by Adam.
func adamResumable(_ yaml: String) -> String {
    yaml.replacingOccurrences(of: "optimizer: {lr: 0.02, momentum: 0.9, weight_decay: 5.0e-4}",
                              with: "optimizer: {type: adam, lr: 0.002, weight_decay: 5.0e-4}\n  clip_grad_norm: 1.0")
}

@Test("Adam resumes exactly: synchronous (on another worker count too) and parameter averaging with averaged or local moments",
      arguments: [("sync", 1), ("average", 2), ("local", 2)])
func adamResumeIsExact(_ c: (mode: String, resumeWorkers: Int)) throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let yaml = adamResumable(c.mode == "sync" ? resumableConfig : averagingConfig)
    var overrides = ["train.steps=42", "checkpoint.every_steps=10", "checkpoint.keep=10", "data.synthetic_count=1024"]
    if c.mode != "sync" { overrides.append("runtime.sync.momentum=\(c.mode)") }
    let reference = try trainRun(yaml, overrides: overrides, workers: 2, in: dir.appendingPathComponent("reference"))
    let expected = reference.parameters.array
    for step in [10, 20] {
        let url = dir.appendingPathComponent("reference/checkpoints/\(CheckpointStore.name(step: step))")
        let checkpoint = try Checkpoint.read(url)
        #expect(checkpoint.replicas.allSatisfy { $0.steps == step }, "Adam's update count at step \(step)")
        #expect(checkpoint.momentum.count == 2 * checkpoint.weights.count
                && checkpoint.momentum.first?.name == "exp_avg.\(checkpoint.weights[0].name)")
        let run = dir.appendingPathComponent("resumed-\(step)")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let resumed = try trainRun(yaml, overrides: overrides, workers: c.resumeWorkers, in: run, resume: checkpoint)
        #expect(resumed.parameters.array == expected, "\(c.mode): resumed from step \(step), the weights differ from the uninterrupted run")
    }
}

@Test("a checkpoint whose Adam update counts are lost does not resume the same run (the count matters)")
func adamStepCountMatters() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let yaml = adamResumable(resumableConfig)
    let overrides = ["train.steps=30", "checkpoint.every_steps=10", "data.synthetic_count=1024"]
    let reference = try trainRun(yaml, overrides: overrides, workers: 1, in: dir.appendingPathComponent("reference"))
    var checkpoint = try Checkpoint.read(dir.appendingPathComponent("reference/checkpoints/\(CheckpointStore.name(step: 20))"))
    checkpoint.steps = 0
    let run = dir.appendingPathComponent("resumed")
    try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
    let resumed = try trainRun(yaml, overrides: overrides, workers: 1, in: run, resume: checkpoint)
    #expect(resumed.parameters.array != reference.parameters.array)
}

@Test("train.freeze: a frozen layer's parameters stay bitwise unchanged while the others train (SGD and Adam)",
      arguments: [tinyConfig, adamTinyConfig])
func frozenLayerStaysFixed(_ config: String) throws {
    let yaml = config.replacingOccurrences(of: "  batch: 16\n", with: "  batch: 16\n  freeze: ['0']\n")
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (trainer, _) = try train(yaml, overrides: shardedOverrides, workers: 2, in: dir)
    let initial = FloatBuffer(count: trainer.model.layout.totalCount)
    trainer.model.layout.initialize(initial, seed: trainer.config.seed)
    for e in trainer.model.layout.entries {
        let now = Array(trainer.parameters.array[e.range]), then = Array(initial.array[e.range])
        if e.layerIndex == 0 { #expect(now == then, "\(e.name) is frozen") } else { #expect(now != then, "\(e.name) trains") }
    }
}

/// Writes `tensors` as a safetensors file in `dir`.
func writeWeights(_ tensors: [Safetensors.Tensor], _ dir: URL, _ name: String) throws -> URL {
    let url = dir.appendingPathComponent(name)
    try Safetensors.encode(tensors).write(to: url)
    return url
}

@Test("train.init_from loads matching tensors bit for bit and lists the others, in the log and init_from.json; no match is an error")
func initFromLoadsMatchingTensors() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    // tinyConfig's parameters: 0.weight [4, 1, 3, 3], 0.bias [4], 5.weight [4, 64], 5.bias [4].
    let convWeight = (0..<36).map { Float($0) * 0.01 - 0.1 }
    let file = try writeWeights([Safetensors.Tensor(name: "0.weight", shape: [4, 1, 3, 3], values: convWeight),
                                 Safetensors.Tensor(name: "0.bias", shape: [5], values: [1, 2, 3, 4, 5]),
                                 Safetensors.Tensor(name: "head.weight", shape: [2], values: [1, 2])], dir, "pre.safetensors")
    let config = try RunConfig.parse(yaml: tinyConfig(train: "init_from: \(file.path)"), file: "tiny.yaml", overrides: shardedOverrides)
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let log = Mutex<[String]>([])
    let trainer = try Trainer(config: config, directory: try RunDirectory.create(explicit: dir.appendingPathComponent("run").path, name: "t"),
                              train: data.train, test: data.test, workers: 1,
                              progress: ProgressLine(isTerminal: false, write: { text in log.withLock { $0.append(text) } }))
    let layout = trainer.model.layout
    let initial = FloatBuffer(count: layout.totalCount)
    layout.initialize(initial, seed: config.seed)
    for e in layout.entries {
        let now = Array(trainer.parameters.array[e.range])
        #expect(now == (e.name == "0.weight" ? convWeight : Array(initial.array[e.range])), "\(e.name)")
    }
    let notLoaded = ["shape differs: '0.bias': the model has [4], the file [5]", "missing in the file: '5.weight' [4, 64]",
                     "missing in the file: '5.bias' [4]", "not in the model: 'head.weight' [2]"]
    let report = try JSONDecoder().decode(MatchingWeights.self, from: Data(contentsOf: dir.appendingPathComponent("run/init_from.json")))
    #expect(report.loaded == ["0.weight"] && report.notLoaded == notLoaded)
    #expect(log.withLock { $0 } == (["init_from \(file.path): loaded 1 of 4 parameter tensors"] + notLoaded.map { "init_from: not loaded: \($0)" }).map { $0 + "\n" })

    let foreign = try writeWeights([Safetensors.Tensor(name: "fc.weight", shape: [2], values: [1, 2])], dir, "foreign.safetensors")
    let bad = try RunConfig.parse(yaml: tinyConfig(train: "init_from: \(foreign.path)"), file: "tiny.yaml", overrides: shardedOverrides)
    #expect(throws: RunError("\(foreign.path): train.init_from: none of the file's 1 tensors matches a parameter of the model by name and shape (4 parameters, e.g. missing in the file: '0.weight' [4, 1, 3, 3])")) {
        _ = try Trainer(config: bad, directory: nil, train: data.train, test: data.test, workers: 1)
    }
}

@Test("resuming a run that started from init_from continues from the checkpoint, not from the init file")
func resumeIgnoresInitFrom() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let fc = (0..<(4 * 64)).map { Float($0 % 13) * 0.01 }
    let file = try writeWeights([Safetensors.Tensor(name: "5.weight", shape: [4, 64], values: fc)], dir, "pre.safetensors")
    let yaml = tinyConfig(train: "init_from: \(file.path)")
    let overrides = shardedOverrides + ["checkpoint.every_steps=3", "checkpoint.keep=10"]
    let reference = try trainRun(yaml, overrides: overrides, workers: 1, in: dir.appendingPathComponent("reference"))
    let checkpoint = try Checkpoint.read(dir.appendingPathComponent("reference/checkpoints/\(CheckpointStore.name(step: 3))"))
    // Were the file read again, these values would replace the checkpoint's.
    _ = try writeWeights([Safetensors.Tensor(name: "5.weight", shape: [4, 64], values: fc.map { -$0 })], dir, "pre.safetensors")
    let run = dir.appendingPathComponent("resumed")
    try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
    let resumed = try trainRun(yaml, overrides: overrides, workers: 1, in: run, resume: checkpoint)
    #expect(resumed.parameters.array == reference.parameters.array)
}

@Test("resuming an SGD checkpoint with Adam is refused, saying what differs")
func resumeWithAnotherOptimizerRefused() throws {
    let (checkpoint, _) = try tinyCheckpoint(step: 3)
    let adam = try RunConfig.parse(yaml: adamTinyConfig, file: "tiny.yaml")
    #expect(throws: RunError("cannot resume exactly: train.optimizer.type sgd vs adamw (checkpoint vs config)")) {
        try Trainer.checkResume(checkpoint, config: adam, model: try adam.model.build())
    }
}
