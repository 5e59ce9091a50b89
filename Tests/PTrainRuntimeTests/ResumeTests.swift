import Testing
import Foundation
import PTrain
import PTrainData
import PTrainReporting
import PTrainRuntime

/// A run long enough (a few seconds) to be interrupted by a signal.
let resumableConfig = """
name: resumable
seed: 5
data: {dataset: synthetic, synthetic_count: 4096, synthetic_classes: 10}
model:
  input: [1, 28, 28]
  layers:
    - {type: conv2d, filters: 6, kernel: 5, padding: 2}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: conv2d, filters: 16, kernel: 5}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: dense, units: 64}
    - {type: relu}
    - {type: dropout, p: 0.2}
    - {type: dense, units: 10}
train:
  epochs: 4
  batch: 32
  optimizer: {lr: 0.02, momentum: 0.9, weight_decay: 5.0e-4}
  schedule: {type: cosine}
runtime: {shard: 8, bind: none}
checkpoint: {every_steps: 40, keep: 2}
"""

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let ptrainBinary = packageRoot.appendingPathComponent(".build/release/ptrain")

/// Starts `ptrain ARGS`, returning the process and a file receiving its output.
func launch(_ args: [String], log: URL) throws -> Process {
    let p = Process()
    p.executableURL = ptrainBinary
    p.arguments = args
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    p.standardOutput = handle
    p.standardError = handle
    try p.run()
    return p
}

func runToEnd(_ args: [String], log: URL) throws -> Int32 {
    let p = try launch(args, log: log)
    waitForExit(p, seconds: 300, "ptrain \(args.joined(separator: " "))")
    return p.terminationStatus
}

func finalWeights(_ run: URL) throws -> [Safetensors.Tensor] {
    try Safetensors.decode(Data(contentsOf: run.appendingPathComponent("checkpoints/last.safetensors")), file: "last").tensors
}

/// Waits for `process` to exit, at most `seconds`; then kills it (SIGKILL)
/// and records the hang, so a regression fails the test instead of hanging CI.
/// Returns whether it hung.
@discardableResult
func waitForExit(_ process: Process, seconds: Double = 120, _ what: String) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    let hung = process.isRunning
    if hung {
        kill(process.processIdentifier, SIGKILL)
        Issue.record("\(what): still running after \(Int(seconds)) s (hung); killed")
    }
    process.waitUntilExit()
    return hung
}

/// Waits (bounded) until the run has written a checkpoint.
func waitForCheckpoint(_ run: URL, process: Process) {
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline && process.isRunning {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent("checkpoints").path)) ?? []
        if names.contains(where: { $0.hasPrefix("step-") }) { return }
        usleep(20_000)
    }
}

@Test("interrupted (SIGTERM, SIGKILL) and resumed runs end with the uninterrupted run's exact weights, across worker counts",
      .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
func resumeIsExact() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let config = dir.appendingPathComponent("resumable.yaml")
    try resumableConfig.write(to: config, atomically: true, encoding: .utf8)
    let reference = dir.appendingPathComponent("reference")
    #expect(try runToEnd(["train", config.path, "--out", reference.path, "--workers", "2"], log: dir.appendingPathComponent("ref.log")) == 0)
    let expected = try finalWeights(reference)

    for (signal, firstWorkers, resumeWorkers) in [(SIGTERM, "2", "1"), (SIGKILL, "1", "2")] {
        let run = dir.appendingPathComponent("run-\(signal)")
        let log = dir.appendingPathComponent("run-\(signal).log")
        let p = try launch(["train", config.path, "--out", run.path, "--workers", firstWorkers], log: log)
        waitForCheckpoint(run, process: p)
        kill(p.processIdentifier, signal)
        waitForExit(p, "the run after signal \(signal)")
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        if signal == SIGTERM {
            #expect(p.terminationStatus == 0, "SIGTERM must exit 0 after checkpointing: \(output)")
            #expect(output.contains("stopped (signal)"), "\(output)")
        }
        let resumeLog = dir.appendingPathComponent("resume-\(signal).log")
        #expect(try runToEnd(["train", config.path, "--resume", run.path, "--workers", resumeWorkers], log: resumeLog) == 0,
                "\((try? String(contentsOf: resumeLog, encoding: .utf8)) ?? "")")
        let resumed = (try? String(contentsOf: resumeLog, encoding: .utf8)) ?? ""
        #expect(resumed.contains("resuming at step"), "\(resumed)")
        #expect(try finalWeights(run) == expected, "signal \(signal): resumed weights differ from the uninterrupted run")
        // metrics.jsonl was appended to, never rewritten: the first run's lines are still there.
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains("\"event\":\"eval\"") }.count >= 4)
    }
}

func tinyCheckpoint(step: Int) throws -> (Checkpoint, RunConfig) {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
    let model = try config.model.build()
    let p = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(p, seed: 1)
    let state = Checkpoint.State(epoch: 0, stepInEpoch: step, step: step, seed: config.seed, workers: 1, elapsedSeconds: 1,
                                 bestMetric: nil, bestStep: nil, evaluationsSinceBest: 0, metric: nil, config: config.resolvedYAML)
    let momentum = FloatBuffer(count: model.layout.totalCount)
    return (Checkpoint(state: state, weights: model.layout.tensors(from: p.pointer),
                       momentum: model.layout.tensors(from: momentum.pointer)), config)
}

@Test("a corrupted or truncated checkpoint is detected; an interrupted write leaves the previous checkpoint intact")
func checkpointIntegrity() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = CheckpointStore(directory: dir, keep: 2, best: .top1)
    let (checkpoint, _) = try tinyCheckpoint(step: 7)
    let url = try store.save(checkpoint, isBest: false)
    #expect(url.lastPathComponent == "step-00000007")
    let read = try Checkpoint.read(url)
    #expect(read.weights == checkpoint.weights && read.state.step == 7)

    // An interrupted write: a half-built temporary directory next to it is ignored.
    let partial = dir.appendingPathComponent(".step-00000008.tmp-999")
    try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
    try Data([1, 2, 3]).write(to: partial.appendingPathComponent("weights.safetensors"))
    #expect(try CheckpointStore.resolve(dir.path).path == url.path)
    #expect(try Checkpoint.read(try CheckpointStore.resolve(dir.path)).state.step == 7)

    // One flipped byte in the weights.
    let weights = url.appendingPathComponent("weights.safetensors")
    var bytes = try Data(contentsOf: weights)
    bytes[bytes.count - 3] ^= 0x40
    try bytes.write(to: weights)
    #expect(throws: Checkpoint.LoadError.self) { _ = try Checkpoint.read(url) }
    do { _ = try Checkpoint.read(url) } catch let e as Checkpoint.LoadError {
        #expect(e.description.hasPrefix("\(url.path): weights.safetensors is corrupted (CRC-32 "))
    }
    // A truncated state file.
    let state = url.appendingPathComponent("state.json")
    let text = try Data(contentsOf: state)
    try text.prefix(text.count / 2).write(to: state)
    #expect(throws: Checkpoint.LoadError(description: "\(url.path): state.json is truncated (\(text.count / 2) bytes; the JSON ends early)")) {
        _ = try Checkpoint.read(url)
    }
    // Not a checkpoint at all.
    #expect(throws: RunError.self) { _ = try CheckpointStore.resolve(dir.appendingPathComponent("nothing").path) }
}

@Test("the store keeps the newest K checkpoints and the best one")
func checkpointRetention() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = CheckpointStore(directory: dir, keep: 2, best: .top1)
    for step in 1...5 {
        var (c, _) = try tinyCheckpoint(step: step)
        c.state.bestStep = 2
        try store.save(c, isBest: step == 2)
    }
    #expect(store.steps() == [2, 4, 5])
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("best.safetensors").path))
    #expect(store.improves(0.9, on: 0.8) && !store.improves(0.7, on: 0.8))
    #expect(CheckpointStore(directory: dir, keep: 1, best: .loss).improves(0.1, on: 0.2))
}

@Test("resuming with another model, seed or batch is refused, saying what differs; a finished run says so")
func resumeRefusals() throws {
    let (checkpoint, config) = try tinyCheckpoint(step: 3)
    let other = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["model.layers[0].filters=8"])
    #expect(throws: RunError("cannot resume: the model differs from the checkpoint's (model section, line 8: checkpoint has 'filters: 4', config has 'filters: 8')")) {
        try Trainer.checkResume(checkpoint, config: other, model: try other.model.build())
    }
    let reseeded = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["seed=9", "train.batch=32"])
    #expect(throws: RunError("cannot resume exactly: seed 3 vs 9, train.batch 16 vs 32 (checkpoint vs config)")) {
        try Trainer.checkResume(checkpoint, config: reseeded, model: try reseeded.model.build())
    }
    try Trainer.checkResume(checkpoint, config: config, model: try config.model.build())

    // A run that already reached its end trains nothing and says so.
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var (done, _) = try tinyCheckpoint(step: 0)
    done.state.step = 120; done.state.epoch = 30; done.state.stepInEpoch = 0
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    var lines: [String] = []
    let trainer = try Trainer(config: config, directory: try RunDirectory.existing(dir), train: data.train, test: data.test,
                              workers: 1, resume: done, progress: ProgressLine(isTerminal: false) { lines.append($0) })
    let result = try trainer.run()
    #expect(result.ending == .alreadyDone && result.steps == 120)
    #expect(lines.contains { $0.hasPrefix("nothing to do: the checkpoint is at step 120 and the run ends at step 120") })
}

@Test("stop criteria: target accuracy and early stopping end the run at an epoch boundary")
func stopCriteria() throws {
    let dir = temporaryDirectory(), dir2 = temporaryDirectory()
    defer { [dir, dir2].forEach { try? FileManager.default.removeItem(at: $0) } }
    let (_, target) = try train(tinyConfig, overrides: ["train.stop.target_top1=0.01"], in: dir)
    #expect(target.ending == .target && target.epochs == 1)
    // With lr tiny, test top-1 barely moves: patience 2 stops after at most 3 epochs without a new best.
    let (_, early) = try train(tinyConfig, overrides: ["train.stop.patience=2", "train.optimizer.lr=1.0e-9"], in: dir2)
    #expect(early.ending == .earlyStopping && early.epochs <= 4, "\(early.epochs)")
}

@Test("the NaN guard stops a run whose learning rate explodes, naming the step and the tensor")
func explodingLearningRate() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    // lr * weight_decay = 5 makes every weight grow geometrically until it overflows.
    do {
        _ = try train(tinyConfig, overrides: ["train.optimizer.lr=100", "train.optimizer.weight_decay=0.05"], in: dir)
        Issue.record("the run should have been stopped by the NaN guard")
    } catch let e as RunError {
        #expect(e.description.contains("non-finite values first in the gradient of"), "\(e)")
        #expect(e.description.hasPrefix("step "), "\(e)")
    }
}

/// Parameter averaging (K = 4) on 2 workers, checkpoints every 10 steps, 42 steps:
/// step 10 falls between averaging points, step 20 on one.
let averagingConfig = resumableConfig.replacingOccurrences(of: "runtime: {shard: 8, bind: none}",
                                                           with: "runtime: {shard: 8, bind: none, sync: {every: 4}}")

/// Trains `config` with `overrides` on `workers` workers into `dir`, from `resume` if given.
func trainRun(_ yaml: String, overrides: [String], workers: Int, in dir: URL, resume: Checkpoint? = nil) throws -> Trainer {
    let config = try RunConfig.parse(yaml: yaml, file: "averaging.yaml", overrides: overrides)
    let data = try DataSources.load(config)
    let directory = resume == nil ? try RunDirectory.create(explicit: dir.path, name: config.name) : try RunDirectory.existing(dir)
    let trainer = try Trainer(config: config, directory: directory, train: data.train, test: data.test,
                              architecture: data.architecture, workers: workers, resume: resume)
    _ = try trainer.run()
    return trainer
}

@Test("parameter averaging resumes exactly from checkpoints between and at averaging points, with local and averaged momentum",
      arguments: ["average", "local"])
func averagingResumeIsExact(momentum: String) throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let overrides = ["runtime.sync.momentum=\(momentum)", "train.steps=42", "checkpoint.every_steps=10", "checkpoint.keep=10",
                     "data.synthetic_count=1024"]
    let reference = try trainRun(averagingConfig, overrides: overrides, workers: 2, in: dir.appendingPathComponent("reference"))
    let expected = Array(UnsafeBufferPointer(start: reference.parameters.pointer, count: reference.parameters.count))
    for step in [10, 20] {
        let checkpoint = try Checkpoint.read(dir.appendingPathComponent("reference/checkpoints/\(CheckpointStore.name(step: step))"))
        // Between averaging points the replicas differ; at one, only local momenta do.
        #expect(checkpoint.state.replicas == (step == 20 && momentum == "average" ? 1 : 2), "step \(step)")
        let run = dir.appendingPathComponent("resumed-\(step)")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let resumed = try trainRun(averagingConfig, overrides: overrides, workers: 2, in: run, resume: checkpoint)
        let got = Array(UnsafeBufferPointer(start: resumed.parameters.pointer, count: resumed.parameters.count))
        #expect(got == expected, "resumed from step \(step) with momentum \(momentum): weights differ from the uninterrupted run")
    }
}

@Test("parameter averaging refuses to resume with another worker count or sync mode, saying why")
func averagingResumeRefusals() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let overrides = ["train.steps=10", "checkpoint.every_steps=6", "checkpoint.keep=5", "data.synthetic_count=256"]
    _ = try trainRun(averagingConfig, overrides: overrides, workers: 2, in: dir)
    let checkpoint = try Checkpoint.read(dir.appendingPathComponent("checkpoints/\(CheckpointStore.name(step: 6))"))
    let config = try RunConfig.parse(yaml: averagingConfig, file: "averaging.yaml", overrides: overrides)
    let model = try config.model.build()
    #expect(throws: RunError("cannot resume exactly: parameter averaging keeps one replica per worker, and the checkpoint's run had 2 workers where this one has 1; resume with --workers 2 (synchronous SGD resumes with any worker count)")) {
        try Trainer.checkResume(checkpoint, config: config, model: model, workers: 1)
    }
    try Trainer.checkResume(checkpoint, config: config, model: model, workers: 2)
    let synchronous = try RunConfig.parse(yaml: averagingConfig, file: "averaging.yaml", overrides: overrides + ["runtime.sync.every=1"])
    #expect(throws: RunError("cannot resume exactly: runtime.sync.every 4 vs 1 (checkpoint vs config)")) {
        try Trainer.checkResume(checkpoint, config: synchronous, model: model, workers: 2)
    }
    let local = try RunConfig.parse(yaml: averagingConfig, file: "averaging.yaml", overrides: overrides + ["runtime.sync.momentum=local"])
    #expect(throws: RunError("cannot resume exactly: runtime.sync.momentum average vs local (checkpoint vs config)")) {
        try Trainer.checkResume(checkpoint, config: local, model: model, workers: 2)
    }
    // A multi-process averaging checkpoint between averaging points holds process 0's replicas only.
    var partial = checkpoint
    partial.state.processes = 2
    partial.state.complete = false
    #expect(throws: RunError("cannot resume exactly: the checkpoint was written at step 6 by a 2-process parameter-averaging run between averaging points; it holds the replicas of process 0 only (resume from a checkpoint written right after an averaging point with runtime.sync.momentum: average)")) {
        try Trainer.checkResume(partial, config: config, model: model, workers: 2)
    }
}

@Test("parameter averaging interrupted by SIGTERM or SIGKILL and resumed ends with the uninterrupted run's weights; another worker count is refused",
      .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
func averagingSignalResumeIsExact() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let config = dir.appendingPathComponent("averaging.yaml")
    try averagingConfig.replacingOccurrences(of: "sync: {every: 4}", with: "sync: {every: 4, momentum: local}")
        .replacingOccurrences(of: "every_steps: 40", with: "every_steps: 37")
        .write(to: config, atomically: true, encoding: .utf8)
    let reference = dir.appendingPathComponent("reference")
    #expect(try runToEnd(["train", config.path, "--out", reference.path, "--workers", "2"], log: dir.appendingPathComponent("ref.log")) == 0)
    let expected = try finalWeights(reference)
    for signal in [SIGTERM, SIGKILL] {
        let run = dir.appendingPathComponent("run-\(signal)")
        let p = try launch(["train", config.path, "--out", run.path, "--workers", "2"], log: dir.appendingPathComponent("run-\(signal).log"))
        waitForCheckpoint(run, process: p)
        kill(p.processIdentifier, signal)
        waitForExit(p, "the averaging run after signal \(signal)")
        if signal == SIGKILL {
            let refusedLog = dir.appendingPathComponent("refused.log")
            #expect(try runToEnd(["train", config.path, "--resume", run.path, "--workers", "1"], log: refusedLog) == 1)
            let refused = (try? String(contentsOf: refusedLog, encoding: .utf8)) ?? ""
            #expect(refused.contains("parameter averaging keeps one replica per worker"), "\(refused)")
        }
        let resumeLog = dir.appendingPathComponent("resume-\(signal).log")
        #expect(try runToEnd(["train", config.path, "--resume", run.path, "--workers", "2"], log: resumeLog) == 0,
                "\((try? String(contentsOf: resumeLog, encoding: .utf8)) ?? "")")
        #expect(try finalWeights(run) == expected, "signal \(signal): resumed averaging weights differ from the uninterrupted run")
    }
}

@Test("a checkpoint rewritten at the same step replaces the old one by an exchange; nothing temporary is left")
func checkpointRewrittenAtSameStep() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = CheckpointStore(directory: dir, keep: 1, best: .none)
    var (checkpoint, _) = try tinyCheckpoint(step: 9)
    try store.save(checkpoint, isBest: false)
    checkpoint.state.epoch = 1
    checkpoint.state.stepInEpoch = 0
    let url = try store.save(checkpoint, isBest: false)
    #expect(try Checkpoint.read(url).state.epoch == 1)
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    #expect(names == ["last.safetensors", "step-00000009"], "\(names)")
}

@Test("temporary directories of checkpoint writes that were killed are removed by the next save")
func abandonedCheckpointWritesAreRemoved() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let abandoned = dir.appendingPathComponent(".step-00000004.tmp-999999")
    try FileManager.default.createDirectory(at: abandoned, withIntermediateDirectories: true)
    try Data([1, 2, 3]).write(to: abandoned.appendingPathComponent("weights.safetensors"))
    let store = CheckpointStore(directory: dir, keep: 2, best: .none)
    let (checkpoint, _) = try tinyCheckpoint(step: 5)
    try store.save(checkpoint, isBest: false)
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    #expect(names == ["last.safetensors", "step-00000005"], "\(names)")
}
