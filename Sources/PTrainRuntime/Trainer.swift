import Foundation
import PTrain
import PTrainData
import PTrainReporting

/// A training run: epochs of steps on a `DataParallelEngine`, the learning
/// rate schedule, evaluation on the test split after every epoch, progress,
/// `metrics.jsonl`, curves, checkpoints, exact resume, signals and stop
/// criteria.
///
/// Resume is exact: a checkpoint holds the parameters, the momentum buffers
/// (every replica's where parameter averaging keeps them apart: see
/// `EngineSnapshot`) and the position (epoch, step in the epoch); every random draw is keyed by
/// (seed, epoch, sample index) and the gradient sum does not depend on the
/// worker count, so an interrupted and resumed run ends with the same bits as
/// an uninterrupted one, with any number of workers.
///
/// In a multi-process job (MPI) every rank runs a trainer on its part of each
/// batch; rank 0 alone has a run directory and writes metrics, curves and
/// checkpoints (the others pass `directory: nil`). Decisions a rank could
/// reach alone (a signal, the time limit) are agreed through the group, so all
/// ranks stop at the same step.
public final class Trainer {
    public let config: RunConfig
    /// Where the run is written; nil on ranks other than 0, which write nothing.
    public let directory: RunDirectory?
    public let engine: DataParallelEngine
    public var model: Model { engine.model }
    public var parameters: FloatBuffer { engine.parameters }
    private let progress: ProgressLine
    private let metrics: MetricsLog?
    /// Nil on ranks other than 0.
    private let store: CheckpointStore?
    private let resume: Checkpoint?
    /// Process start, shifted back by the time a resumed run had already used.
    private let startTime: Double
    private var curves: TrainingCurves
    private var signals: SignalMonitor?
    /// Scalars for TensorBoard (`--tensorboard`), in `RUN/tensorboard/`.
    private let tensorboard: TensorBoardWriter?
    /// The class of each model output (written to the run directory).
    private let classNames: [String]?

    /// Why `run()` returned.
    public enum Ending: String, Sendable {
        case completed, signal, timeLimit = "time limit", target, earlyStopping = "early stopping", alreadyDone = "already done"
    }

    public struct Result: Sendable {
        public let epochs: Int
        public let steps: Int
        /// The last evaluation on the split the run's choices are made on:
        /// validation when `data.validation` is set, else test.
        public let finalEval: EvalResult
        /// The last evaluation on the test split (reported, never chosen on).
        public let finalTest: EvalResult
        public let elapsed: Double
        /// Best top-1 over the run's evaluations, on the same split as `finalEval`.
        public let bestTop1: Double
        public let ending: Ending
    }

    /// Bookkeeping carried in checkpoints.
    private struct Position {
        var epoch = 0, stepInEpoch = 0, step = 0
        var bestMetric: Double?, bestStep: Int?
        var evaluationsSinceBest = 0
        var metric: Double?
    }

    /// `resume`: a checkpoint to continue from (checked against the config by
    /// `Trainer.checkResume`). `handleSignals`: install SIGINT/SIGTERM/SIGUSR1
    /// handling for the duration of `run()`.
    public init(config: RunConfig, directory: RunDirectory?, train: SampleSet, test: SampleSet,
                validation: SampleSet? = nil, architecture: SampleSet? = nil, classNames: [String]? = nil, workers: Int, placement: @escaping @Sendable (Int) throws -> Void = { _ in },
                resume: Checkpoint? = nil, startTime: Double = monotonicSeconds(), tensorboard: Bool = false,
                progress: ProgressLine = ProgressLine(isTerminal: false, write: { _ in }),
                group: ProcessGroup = SingleProcess()) throws {
        self.config = config
        self.directory = directory
        self.progress = progress
        self.resume = resume
        self.startTime = startTime - (resume?.state.elapsedSeconds ?? 0)
        engine = try DataParallelEngine(config: config, train: train, test: test, validation: validation,
                                        architecture: architecture, workers: workers, placement: placement, group: group)
        self.classNames = classNames
        engine.onNote = { progress.line("note: \($0)") }  // a rare event: its text is built here, not in the step
        store = directory.map { CheckpointStore(directory: $0.checkpoints, keep: config.checkpoint.keep, best: config.checkpoint.best) }
        if let resume {
            try Self.checkResume(resume, config: config, model: engine.model, workers: engine.workers, processes: group.size)
            try engine.restore(resume.replicas, architectureSteps: resume.state.architectureSteps, file: "checkpoint step \(resume.state.step)")
            if engine.averaging && resume.state.replicas == nil {
                progress.line("note: this checkpoint (format 1) holds replica 0 only: parameter averaging continues from it, but not bit for bit")
            }
        }
        if resume == nil, let directory { try AtomicFile.write(config.resolvedYAML, to: directory.config) }
        if let directory, let classNames {
            // The class of each output, in order: what `ptrain predict` names.
            try AtomicFile.write(classNames.joined(separator: "\n") + "\n", to: directory.url.appendingPathComponent("classes.txt"))
        }
        // A resumed run continues from its checkpoint: the init file is not read again.
        if resume == nil, let path = config.train.initFrom {
            try Self.fineTune(engine, from: path, progress: progress, directory: directory)
        }
        if let directory, let lighting = train.augmentation?.lighting {
            // The PCA of the training set's RGB covariance used by the lighting augmentation, for the record.
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(lighting), to: directory.url.appendingPathComponent("lighting.json"))
        }
        metrics = try directory.map { try MetricsLog(url: $0.metrics) }
        curves = resume == nil || directory == nil ? TrainingCurves() : TrainingCurves(metrics: directory!.metrics)
        self.tensorboard = try directory.flatMap { tensorboard ? try TensorBoardWriter(directory: $0.url.appendingPathComponent("tensorboard")) : nil }
    }

    /// Refuses a checkpoint that cannot continue this config exactly: another
    /// model, or another seed, batch or shard size (they define the data
    /// order and the gradient sum), another synchronisation mode, or, with
    /// parameter averaging, another number of workers or processes (each
    /// replica's trajectory depends on its share of the batch). Says what differs.
    public static func checkResume(_ checkpoint: Checkpoint, config: RunConfig, model: Model,
                                   workers: Int? = nil, processes: Int = 1) throws {
        let old: RunConfig
        do { old = try RunConfig.parse(yaml: checkpoint.state.config, file: "checkpoint config") } catch {
            throw RunError("the checkpoint's config no longer decodes: \(error)")
        }
        if old.resolvedModelYAML != config.resolvedModelYAML {
            let a = old.resolvedModelYAML.split(separator: "\n"), b = config.resolvedModelYAML.split(separator: "\n")
            let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            let was = i < a.count ? String(a[i]).trimmingCharacters(in: .whitespaces) : "(nothing)"
            let now = i < b.count ? String(b[i]).trimmingCharacters(in: .whitespaces) : "(nothing)"
            throw RunError("cannot resume: the model differs from the checkpoint's (model section, line \(i + 1): checkpoint has '\(was)', config has '\(now)')")
        }
        var differences: [String] = []
        if old.seed != config.seed { differences.append("seed \(old.seed) vs \(config.seed)") }
        if old.train.batch != config.train.batch { differences.append("train.batch \(old.train.batch) vs \(config.train.batch)") }
        if old.runtime.shard != config.runtime.shard { differences.append("runtime.shard \(old.runtime.shard) vs \(config.runtime.shard)") }
        if old.train.optimizer.kind != config.train.optimizer.kind {
            // Another optimizer's state (momentum vs Adam's moments) cannot continue this one.
            differences.append("train.optimizer.type \(old.train.optimizer.kind.rawValue) vs \(config.train.optimizer.kind.rawValue)")
        }
        if old.data.dataset != config.data.dataset { differences.append("data.dataset \(old.data.dataset) vs \(config.data.dataset)") }
        if old.data.validation != config.data.validation {
            differences.append("data.validation \(old.data.validation.map { "\($0)" } ?? "none") vs \(config.data.validation.map { "\($0)" } ?? "none")")
        }
        if old.runtime.syncEvery != config.runtime.syncEvery {
            differences.append("runtime.sync.every \(old.runtime.syncEvery) vs \(config.runtime.syncEvery)")
        }
        if config.runtime.syncEvery > 1 && old.runtime.momentum != config.runtime.momentum {
            differences.append("runtime.sync.momentum \(old.runtime.momentum) vs \(config.runtime.momentum)")
        }
        if old.train.architecture != config.train.architecture {
            func text(_ a: ArchitectureConfig?) -> String {
                a.map { "order \($0.order.rawValue), split \($0.split), lr \($0.optimizer.learningRate)" } ?? "none"
            }
            differences.append("train.architecture \(text(old.train.architecture)) vs \(text(config.train.architecture))")
        }
        if !differences.isEmpty {
            throw RunError("cannot resume exactly: \(differences.joined(separator: ", ")) (checkpoint vs config)")
        }
        let state = checkpoint.state
        if state.complete == false {
            throw RunError("cannot resume exactly: the checkpoint was written at step \(state.step) by a \(state.processes ?? 1)-process parameter-averaging run between averaging points; it holds the replicas of process 0 only (resume from a checkpoint written right after an averaging point with runtime.sync.momentum: average)")
        }
        let oldProcesses = state.processes ?? 1
        if config.runtime.syncEvery > 1, let workers, state.workers != workers || oldProcesses != processes {
            throw RunError("cannot resume exactly: parameter averaging keeps one replica per worker, and the checkpoint's run had \(oldProcesses > 1 ? "\(oldProcesses) processes x " : "")\(state.workers) worker\(state.workers == 1 ? "" : "s") where this one has \(processes > 1 ? "\(processes) processes x " : "")\(workers); resume with --workers \(state.workers)\(oldProcesses > 1 ? " on \(oldProcesses) processes" : "") (synchronous SGD resumes with any worker count)")
        }
    }

    /// `train.init_from`: loads the tensors of `path` that match the model,
    /// and tells which did not, one line each, in the log and in
    /// `RUN/init_from.json`. A file with no matching tensor is an error.
    private static func fineTune(_ engine: DataParallelEngine, from path: String, progress: ProgressLine,
                                 directory: RunDirectory?) throws {
        let tensors = try Safetensors.decode(try RegularFile.read(path), file: path).tensors
        let result = engine.initialize(from: tensors)
        let parameters = engine.model.layout.entries.count
        guard !result.loaded.isEmpty else {
            throw RunError("\(path): train.init_from: none of the file's \(tensors.count) tensors matches a parameter of the model by name and shape (\(parameters) parameters, e.g. \(result.notLoaded.first ?? "none"))")
        }
        progress.line("init_from \(path): loaded \(result.loaded.count) of \(parameters) parameter tensors")
        for line in result.notLoaded { progress.line("init_from: not loaded: \(line)") }
        if let directory {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(result), to: directory.initFrom)
        }
    }

    public var stepsPerEpoch: Int { engine.stepsPerEpoch }

    public func run(handleSignals: Bool = false) throws -> Result {
        let t = config.train
        guard stepsPerEpoch > 0 else {
            throw RunError("train.batch \(t.batch) is larger than the \(engine.train.count) training samples")
        }
        let totalSteps = min(t.maxSteps ?? Int.max, t.epochs * stepsPerEpoch)
        let epochs = (totalSteps + stepsPerEpoch - 1) / stepsPerEpoch
        let schedule = LearningRateSchedule(base: t.optimizer.learningRate, config: t.schedule,
                                            totalEpochs: Double(totalSteps) / Double(stepsPerEpoch))
        var pos = Position()
        if let s = resume?.state {
            pos = Position(epoch: s.epoch, stepInEpoch: s.stepInEpoch, step: s.step, bestMetric: s.bestMetric,
                           bestStep: s.bestStep, evaluationsSinceBest: s.evaluationsSinceBest, metric: s.metric)
        }
        describe(epochs: epochs, totalSteps: totalSteps, resumedAt: resume == nil ? nil : pos.step)
        var last = EvalResult(loss: .nan, top1: 0, count: 0), lastTest = last
        if pos.step >= totalSteps {
            progress.line("nothing to do: the checkpoint is at step \(pos.step) and the run ends at step \(totalSteps) (raise train.epochs or train.steps to continue)")
            return Result(epochs: epochs, steps: pos.step, finalEval: last, finalTest: last, elapsed: monotonicSeconds() - startTime,
                          bestTop1: config.checkpoint.best == .top1 ? pos.bestMetric ?? 0 : 0, ending: .alreadyDone)
        }
        if handleSignals {
            let interrupt = engine.interrupt
            signals = SignalMonitor { sig in
                interrupt.request()
                FileHandle.standardError.write(Data("\n\(sig == SIGUSR1 ? "SIGUSR1: writing a checkpoint" : "signal \(sig): finishing the step, writing a checkpoint, then exiting")\n".utf8))
            }
        }
        defer { signals?.cancel(); signals = nil }

        var bestTop1 = 0.0
        var ending = Ending.completed
        training: while pos.epoch < epochs {
            let epoch = pos.epoch
            engine.beginEpoch(epoch)
            let epochStart = monotonicSeconds()
            let epochSteps = min(stepsPerEpoch, totalSteps - (pos.step - pos.stepInEpoch))
            let firstStepOfEpoch = pos.step - pos.stepInEpoch
            var seen = 0
            var lr = 0.0
            while pos.stepInEpoch < epochSteps {
                let n = chunk(pos, epochSteps: epochSteps)
                let outcome = engine.steps(first: pos.stepInEpoch, count: n, learningRate: { k in
                    schedule.rate(at: Double(epoch) + Double(k) / Double(self.stepsPerEpoch))
                }, averageAfter: { k in
                    (firstStepOfEpoch + k + 1) % self.config.runtime.syncEvery == 0 || k == epochSteps - 1
                })
                lr = schedule.rate(at: Double(epoch) + Double(pos.stepInEpoch + max(outcome.completed - 1, 0)) / Double(stepsPerEpoch))
                pos.stepInEpoch += outcome.completed
                pos.step += outcome.completed
                seen += outcome.completed * t.batch
                if outcome.skipped > 0 {
                    progress.line("note: \(outcome.skipped) step\(outcome.skipped == 1 ? "" : "s") before step \(pos.step) skipped: non-finite gradient (train.on_nan: skip)")
                }
                if outcome.nonFiniteGradient {
                    let bad = model.layout.firstNonFiniteTensor(in: engine.lastGradient).map { name -> String in
                        let layer = model.layout.entries.first { $0.name == name }.map { model.layers[$0.layerIndex] }
                        return "the gradient of \(name)\(layer.map { " (layer \($0.name), \($0.typeName))" } ?? "")"
                    } ?? "the gradient"
                    throw RunError("step \(pos.step + 1) (epoch \(epoch + 1)): non-finite values first in \(bad); the update was not applied. Lower train.optimizer.lr, check the data, or set train.on_nan: skip")
                }
                // A bad image (data.on_bad_image: error) ends the run; the checkpoints written so far stay.
                if let error = engine.train.failures.error { throw error }
                reportProgress(pos, epochs: epochs, totalSteps: totalSteps, epochSteps: epochSteps, seen: seen,
                               epochStart: epochStart, lr: lr)
                let boundary = t.logEvery > 0 && pos.step % t.logEvery == 0
                if boundary { writeTrainMetrics(pos, seen: seen, epochStart: epochStart, lr: lr) }
                if config.checkpoint.everySteps > 0 && pos.step % config.checkpoint.everySteps == 0 {
                    try saveCheckpoint(pos)
                }
                if outcome.interrupted {
                    // Every rank left the steps here; the action is what any rank was asked for.
                    let action = group.any(Self.code(signals?.take() ?? .none))
                    if action & Self.code(.stop) != 0 {
                        ending = .signal
                        break training
                    }
                    if action & Self.code(.checkpoint) != 0 {
                        try saveCheckpoint(pos)
                        progress.line("checkpoint written at step \(pos.step) (SIGUSR1)")
                    }
                }
                if let limit = t.timeLimit, group.any(monotonicSeconds() - startTime >= limit) {
                    ending = .timeLimit
                    break training
                }
            }
            // End of the epoch: evaluate, record, checkpoint, stop criteria.
            (last, lastTest) = try finishEpoch(&pos, epochs: epochs, seen: seen, epochStart: epochStart, lr: lr)
            try recordArchitecture(pos)
            bestTop1 = max(bestTop1, last.top1)
            pos.epoch += 1
            pos.stepInEpoch = 0
            let isBest = config.checkpoint.best != .none && pos.bestStep == pos.step
            if (config.checkpoint.everyEpochs > 0 && pos.epoch % config.checkpoint.everyEpochs == 0) || pos.epoch == epochs || isBest {
                try saveCheckpoint(pos, isBest: isBest)
            }
            if let target = t.targetTop1, last.top1 >= target { ending = .target; break }
            if let patience = t.patience, pos.evaluationsSinceBest >= patience { ending = .earlyStopping; break }
        }
        if ending == .signal || ending == .timeLimit {
            let url = try saveCheckpoint(pos)
            progress.line("stopped (\(ending.rawValue)) after step \(pos.step); checkpoint \(url?.path ?? "written by rank 0"); continue with --resume \(directory?.url.path ?? "RUN")")
        } else if ending == .target || ending == .earlyStopping {
            progress.line("stopped (\(ending.rawValue)) after epoch \(pos.epoch), step \(pos.step)")
        }
        return Result(epochs: pos.epoch, steps: pos.step, finalEval: last, finalTest: lastTest, elapsed: monotonicSeconds() - startTime,
                      bestTop1: bestTop1, ending: ending)
    }

    /// After each epoch of a model with architecture parameters: one line
    /// of `RUN/architecture.jsonl`, softmax(alpha) of every architecture
    /// tensor (`{"epoch": E, "step": S, "softmax": {NAME: [...]}}`), what a
    /// search charts and derives from. A resumed run appends; a reader keeps
    /// the last line of each epoch.
    private func recordArchitecture(_ pos: Position) throws {
        let arch = model.layout.architectureParameters
        guard let directory, !arch.isEmpty else { return }
        var softmax: [String: [Double]] = [:]
        for e in arch {
            let a = (0..<e.count).map { Double(parameters.pointer[e.offset + $0]) }
            let top = a.max() ?? 0
            let w = a.map { Foundation.exp($0 - top) }
            let total = w.reduce(0, +)
            softmax[e.name] = w.map { $0 / total }
        }
        let record = ArchitectureRecord(epoch: pos.epoch + 1, step: pos.step, softmax: softmax)
        try ArchitectureRecord.append(record, to: directory.url.appendingPathComponent(ArchitectureRecord.fileName))
    }

    /// A signal request as a flag bit, for `ProcessGroup.any`.
    private static func code(_ request: SignalMonitor.Request) -> Int32 {
        switch request {
        case .none: 0
        case .checkpoint: 1
        case .stop: 2
        }
    }

    private var group: ProcessGroup { engine.group }

    private func describe(epochs: Int, totalSteps: Int, resumedAt: Int?) {
        let t = config.train, plan = engine.plan, workers = engine.workers
        let mode = engine.averaging ? "parameter averaging every \(config.runtime.syncEvery) steps"
            : "synchronous SGD, \(plan.dynamic ? "dynamic" : "static") shard schedule"
        let processes = group.size > 1 ? "\(group.size) processes x " : ""
        progress.line("run \(config.name): \(engine.train.count) training / \(engine.validation.map { "\($0.count) validation / " } ?? "")\(engine.test.count) test samples, \(epochs) epochs x \(stepsPerEpoch) steps of \(t.batch) (\(plan.shards * group.size) shards of \(plan.shardSize)), \(processes)\(workers) worker\(workers == 1 ? "" : "s"), \(mode)")
        if !engine.averaging && !plan.isCanonical {
            progress.line("note: \(workers) workers is not a power of two dividing \(plan.shards) shards: results are deterministic but not bitwise equal to other worker counts")
        }
        if let directory { progress.line("run directory: \(directory.url.path)") }
        if let resumedAt { progress.line("resuming at step \(resumedAt) of \(totalSteps)") }
    }

    /// Steps until the next point where the loop must look: a progress line,
    /// a checkpoint, the epoch's end; on a terminal, a sub-run for live updates.
    private func chunk(_ pos: Position, epochSteps: Int) -> Int {
        var n = epochSteps - pos.stepInEpoch
        for every in [config.train.logEvery, config.checkpoint.everySteps] where every > 0 {
            n = min(n, every - pos.step % every)
        }
        // Live updates on a terminal; ranks of a job must cut their steps alike, so not there.
        if progress.isTerminal && group.size == 1 { n = min(n, DataParallelEngine.subRunSteps) }
        return max(n, 1)
    }

    private func reportProgress(_ pos: Position, epochs: Int, totalSteps: Int, epochSteps: Int, seen: Int,
                                epochStart: Double, lr: Double) {
        let c = engine.gatherCounters()
        let elapsed = monotonicSeconds() - epochStart
        let rate = Double(seen) / max(elapsed, 1e-9)
        let perStep = Double(config.train.batch) / max(rate, 1e-9)
        let interval = config.train.logEvery > 0 && pos.step % config.train.logEvery == 0
        progress.status(String(format: "epoch %d/%d step %d/%d  loss %.4f  train-top1 %.2f%%  lr %.4g  %.0f img/s  %@  ETA epoch %@, run %@",
                               pos.epoch + 1, epochs, pos.stepInEpoch, epochSteps, c.loss / Double(max(seen, 1)),
                               100 * Double(c.correct) / Double(max(seen, 1)), lr, rate, timingText(c, steps: seen / config.train.batch),
                               durationText(perStep * Double(epochSteps - pos.stepInEpoch)),
                               durationText(perStep * Double(totalSteps - pos.step))), interval: interval)
    }

    private func writeTrainMetrics(_ pos: Position, seen: Int, epochStart: Double, lr: Double) {
        let c = engine.gatherCounters()
        var fields: [String: MetricValue] = ["event": "train", "epoch": .int(pos.epoch + 1), "step": .int(pos.step),
                                             "loss": .double(c.loss / Double(max(seen, 1))), "top1": .double(Double(c.correct) / Double(max(seen, 1))),
                                             "lr": .double(lr), "img_s": .double(Double(seen) / (monotonicSeconds() - epochStart)),
                                             "elapsed_s": .double(monotonicSeconds() - startTime)]
        timingFields(c, steps: seen / config.train.batch).forEach { fields[$0] = $1 }
        metrics?.write(fields)
        tensorboard?.scalars([("train/loss", c.loss / Double(max(seen, 1))), ("train/top1", Double(c.correct) / Double(max(seen, 1))),
                              ("train/lr", lr), ("train/img_s", Double(seen) / (monotonicSeconds() - epochStart))], step: pos.step)
    }

    /// Evaluates, writes the epoch's metrics, curves and best/early-stopping
    /// bookkeeping. The choices (best checkpoint, early stopping) use the
    /// validation split when there is one; the test split is reported beside
    /// it. Returns (the choice split's result, the test split's).
    private func finishEpoch(_ pos: inout Position, epochs: Int, seen: Int, epochStart: Double,
                             lr: Double) throws -> (EvalResult, EvalResult) {
        let rate = Double(seen) / (monotonicSeconds() - epochStart)
        let c = engine.gatherCounters()
        let steps = max(seen / config.train.batch, 1)
        let trainLoss = c.loss / Double(max(seen, 1)), trainTop1 = Double(c.correct) / Double(max(seen, 1))
        var fields: [String: MetricValue] = ["event": "epoch", "epoch": .int(pos.epoch + 1), "step": .int(pos.step), "split": "train",
                                             "loss": .double(trainLoss), "top1": .double(trainTop1),
                                             "lr": .double(lr), "img_s": .double(rate), "workers": .int(engine.workers),
                                             "elapsed_s": .double(monotonicSeconds() - startTime)]
        timingFields(c, steps: steps).forEach { fields[$0] = $1 }
        let skipped = engine.train.failures.takeSkipped()
        if skipped.count > 0 || config.data.onBadImage == .skip { fields["bad_images"] = .int(skipped.count) }
        metrics?.write(fields)
        if let example = skipped.example {
            progress.line("note: \(skipped.count) bad image\(skipped.count == 1 ? "" : "s") skipped this epoch (data.on_bad_image: skip), e.g. \(example)")
        }
        // Validation (the choices), then test (reported).
        var splits: [(name: String, set: SampleSet)] = []
        if let validation = engine.validation { splits.append(("validation", validation)) }
        splits.append(("test", engine.test))
        var results: [EvalResult] = []
        var scalars: [(String, Double)] = [("epoch/train_loss", trainLoss), ("epoch/train_top1", trainTop1), ("epoch/img_s", rate)]
        for (name, set) in splits {
            let result = engine.evaluate(set, epoch: pos.epoch)
            if let error = set.failures.error { throw error }
            metrics?.write(["event": "eval", "epoch": .int(pos.epoch + 1), "step": .int(pos.step), "split": .string(name),
                           "loss": .double(result.loss), "top1": .double(result.top1), "top5": .double(result.top5),
                           "views": "center", "elapsed_s": .double(monotonicSeconds() - startTime)])
            scalars += [("\(name)/loss", result.loss), ("\(name)/top1", result.top1)]
            results.append(result)
        }
        let choice = results[0], test = results[results.count - 1]
        let elapsed = monotonicSeconds() - startTime
        tensorboard?.scalars(scalars, step: pos.step)
        let validationText = engine.validation == nil ? "" : String(format: "  val-loss %.4f  val-top1 %.2f%%", choice.loss, 100 * choice.top1)
        progress.line(String(format: "epoch %d/%d  loss %.4f  train-top1 %.2f%%%@  test-loss %.4f  test-top1 %.2f%%  top5 %.2f%%  %.0f img/s  %@  elapsed %.1fs",
                             pos.epoch + 1, epochs, trainLoss, 100 * trainTop1, validationText, test.loss, 100 * test.top1, 100 * test.top5, rate,
                             timingText(c, steps: steps), elapsed))
        curves.add(event: "epoch", epoch: Double(pos.epoch + 1), loss: trainLoss, top1: trainTop1)
        curves.add(event: "eval", epoch: Double(pos.epoch + 1), loss: test.loss, top1: test.top1)
        if let directory { try? curves.write(to: directory.url, name: config.name) }
        // Ten-crop (10x the cost) at the last epoch only, reported next to the centre crop.
        if config.data.evalViews == .tenCrop && pos.epoch + 1 == epochs {
            let ten = engine.evaluateTest(epoch: pos.epoch, tenCrop: true)
            if let error = engine.test.failures.error { throw error }
            metrics?.write(["event": "eval", "epoch": .int(pos.epoch + 1), "step": .int(pos.step), "split": "test",
                           "loss": .double(ten.loss), "top1": .double(ten.top1), "top5": .double(ten.top5),
                           "views": "ten_crop", "elapsed_s": .double(monotonicSeconds() - startTime)])
            progress.line(String(format: "ten-crop: test-loss %.4f  test-top1 %.2f%%  top5 %.2f%%  (centre crop %.2f%%: %+.2f points)",
                                 ten.loss, 100 * ten.top1, 100 * ten.top5, 100 * test.top1, 100 * (ten.top1 - test.top1)))
        }
        let metric = config.checkpoint.best == .loss ? choice.loss : choice.top1
        pos.metric = metric
        if CheckpointStore.improves(metric, on: pos.bestMetric, best: config.checkpoint.best) {
            pos.bestMetric = metric
            pos.bestStep = pos.step
            pos.evaluationsSinceBest = 0
        } else {
            pos.evaluationsSinceBest += 1
        }
        return (choice, test)
    }

    /// Writes a checkpoint (rank 0 only; other ranks return nil).
    @discardableResult
    private func saveCheckpoint(_ pos: Position, isBest: Bool = false) throws -> URL? {
        guard let store else { return nil }
        var state = Checkpoint.State(epoch: pos.epoch, stepInEpoch: pos.stepInEpoch, step: pos.step, seed: config.seed,
                                     workers: engine.workers, elapsedSeconds: monotonicSeconds() - startTime,
                                     bestMetric: pos.bestMetric, bestStep: pos.bestStep,
                                     evaluationsSinceBest: pos.evaluationsSinceBest, metric: pos.metric,
                                     config: config.resolvedYAML)
        let snapshot = engine.snapshot()
        state.processes = group.size
        state.classNames = classNames
        state.complete = snapshot.complete
        state.architectureSteps = snapshot.architectureSteps
        let checkpoint = Checkpoint(state: state, weights: snapshot.replicas[0].weights, momentum: snapshot.replicas[0].momentum,
                                    steps: snapshot.replicas[0].steps, otherReplicas: Array(snapshot.replicas.dropFirst()))
        return try store.save(checkpoint, isBest: isBest)
    }

    /// `per step: data 0.08 (0.5%) compute 16.9 reduce 0.03 update 0.02 ms`
    /// (data: waiting for the pipeline and copying the shard).
    private func timingText(_ c: DataParallelEngine.Counters, steps: Int) -> String {
        let n = Double(max(steps, 1))
        let total = max(c.data + c.compute + c.reduce + c.crossReduce + c.update, 1e-12)
        let cross = group.size > 1 ? String(format: " (across processes %.2f)", 1e3 * c.crossReduce / n) : ""
        return String(format: "per step: data %.2f (%.1f%%) compute %.2f reduce %.2f%@ update %.2f ms",
                      1e3 * c.data / n, 100 * c.data / total, 1e3 * c.compute / n, 1e3 * (c.reduce + c.crossReduce) / n, cross, 1e3 * c.update / n)
    }

    private func timingFields(_ c: DataParallelEngine.Counters, steps: Int) -> [String: MetricValue] {
        let n = Double(max(steps, 1))
        return ["data_ms": .double(1e3 * c.data / n), "data_share": .double(c.data / max(c.data + c.compute + c.reduce + c.update, 1e-12)),
                "compute_ms": .double(1e3 * c.compute / n),
                "reduce_ms": .double(1e3 * (c.reduce + c.crossReduce) / n), "cross_reduce_ms": .double(1e3 * c.crossReduce / n),
                "update_ms": .double(1e3 * c.update / n)]
    }
}
