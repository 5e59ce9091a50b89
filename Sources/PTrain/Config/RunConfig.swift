import Foundation
import Yams

/// Datasets a config may name (`data.dataset`). Readers live in PTrainData.
public let knownDatasets = ["mnist", "fashion-mnist", "digits", "cifar-10", "synthetic"]

/// `data:` — where samples come from and how they are scaled.
public struct DataConfig: Sendable {
    public var dataset: String
    /// Dataset directory; when absent, `$PTRAIN_DATA/<dataset folder>`.
    public var path: String?
    /// Per-channel normalisation applied to pixels scaled to [0, 1]: `(x - mean) / std`.
    public var mean: [Float]
    public var std: [Float]
    /// Binary tasks: the label becomes 1 for this class, 0 for every other.
    public var binaryTarget: Int?
    /// Use only the first N samples of a split (quick runs, tests).
    public var trainLimit: Int?
    public var testLimit: Int?
    /// Synthetic source: samples per split and classes (shape = model input).
    public var syntheticCount: Int
    public var syntheticClasses: Int
    /// Model inputs are `crop` x `crop` cuts of the images (nil: whole images).
    public var crop: Int?
    /// Training augmentation (`data.augment`, applied in this order).
    public var randomCrop: Bool
    public var cropPadding: Int
    public var flip: Bool
    public var lightingStd: Double
    /// Test-time views: `center`, or `ten_crop` (corners and centre, each
    /// mirrored; softmax probabilities averaged) for the final evaluation,
    /// reported next to the centre crop's.
    public var evalViews: String
}

/// `train.optimizer:` — SGD with momentum (PyTorch semantics).
public struct OptimizerConfig: Sendable, Equatable {
    public var learningRate: Double
    public var momentum: Double
    public var nesterov: Bool
    public var weightDecay: Double
    public init(learningRate: Double, momentum: Double, nesterov: Bool, weightDecay: Double) {
        self.learningRate = learningRate; self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
    }
}

/// `train.schedule:` — learning rate over time, in epochs (fractional).
public struct ScheduleConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case constant, step, multistep, cosine }
    public var kind: Kind
    /// step: multiply by gamma every `stepSize` epochs.
    public var stepSize: Double
    public var gamma: Double
    /// multistep: multiply by gamma at each milestone epoch.
    public var milestones: [Double]
    /// cosine: the rate at the end of training.
    public var minLearningRate: Double
    /// Linear warm-up from ~0 over this many epochs (any kind).
    public var warmupEpochs: Double
    public init(kind: Kind, stepSize: Double = 1, gamma: Double = 0.1, milestones: [Double] = [],
                minLearningRate: Double = 0, warmupEpochs: Double = 0) {
        self.kind = kind; self.stepSize = stepSize; self.gamma = gamma; self.milestones = milestones
        self.minLearningRate = minLearningRate; self.warmupEpochs = warmupEpochs
    }
}

/// `train:` — how long and how the model is trained and evaluated.
public struct TrainConfig: Sendable {
    public var epochs: Int
    /// Stop after this many optimizer steps (optional).
    public var maxSteps: Int?
    /// Global batch (samples per optimizer step).
    public var batch: Int
    public var evalBatch: Int
    public var optimizer: OptimizerConfig
    public var schedule: ScheduleConfig
    /// Progress line every N steps (0: only per epoch).
    public var logEvery: Int
    /// A non-finite gradient: `stop` the run (default) or `skip` the update.
    public var onNaN: String
    /// Stop after this many seconds of wall-clock time (checkpointed), if set.
    public var timeLimit: Double?
    /// Stop at the first evaluation whose test top-1 reaches this, if set.
    public var targetTop1: Double?
    /// Early stopping: stop after this many evaluations without a new best
    /// (by `checkpoint.best`, or test top-1), if set.
    public var patience: Int?
}

/// `checkpoint:` — when checkpoints are written and which are kept.
public struct CheckpointConfig: Sendable {
    /// Every N optimizer steps (0: off).
    public var everySteps: Int
    /// Every N epochs (0: off). A checkpoint is also written at the end of
    /// training, on SIGINT/SIGTERM, on SIGUSR1 and at the time limit.
    public var everyEpochs: Int
    /// The newest K checkpoints are kept (and the best one).
    public var keep: Int
    /// Metric that ranks checkpoints: `top1` (higher is better), `loss`
    /// (test loss, lower is better) or `none`.
    public var best: String
}

/// `runtime:` — workers, pinning, sharding and synchronisation.
public struct RuntimeConfig: Sendable {
    /// Worker threads; nil = one per physical core the process may use.
    public var workers: Int?
    /// `core`: pin each worker to its own core (failure is an error); `none`: don't pin.
    public var bind: String
    /// Samples per shard; the global batch is cut into batch/shard shards.
    public var shard: Int
    /// 1: synchronous SGD (gradient reduction every step). K > 1: parameter
    /// averaging every K local steps.
    public var syncEvery: Int
    /// Parameter averaging also averages the momentum buffers.
    public var averageMomentum: Bool
    /// `dynamic`: shards go to whichever worker is free (one gradient buffer
    /// per shard; balances a core shared with another process). `static`:
    /// worker w always takes the same block of shards (less memory). Both sum
    /// in the same tree, so they give the same bits.
    public var schedule: String
    /// Batch norm statistics: `shard` (each shard's own: identical results for
    /// any worker count) or `global` (the whole global batch, exchanged between
    /// workers at every batch-norm layer; needs one shard per worker).
    public var batchNormStatistics: String = "shard"
}

/// A whole run, strictly decoded from YAML (+ `--set` overrides).
public struct RunConfig {
    public var name: String
    public var seed: UInt64
    public var data: DataConfig
    public var model: ModelSpec
    public var train: TrainConfig
    public var runtime: RuntimeConfig
    public var checkpoint: CheckpointConfig
    /// The config as decoded, every default filled in (YAML text).
    public var resolvedYAML: String
    /// The file it came from, as given.
    public var file: String
    /// The resolved `model:` section alone (resume compares it).
    public var resolvedModelYAML: String

    /// Reads, overrides and decodes `file`. Every problem is a `ConfigError`
    /// naming the file, line and key.
    public static func load(file: String, overrides: [String] = []) throws -> RunConfig {
        let text = try ConfigFile.text(file) { ConfigError("\(file): cannot read the config file (\($0))") }
        let root = try ConfigInheritance.resolve(try compose(text, file: file), file: file)
        return try parse(root: root, file: file, overrides: overrides)
    }

    /// Decodes YAML text (no `base:` inheritance: that needs files; see `load`).
    public static func parse(yaml text: String, file: String, overrides: [String] = []) throws -> RunConfig {
        try parse(root: try compose(text, file: file), file: file, overrides: overrides)
    }

    /// YAML text -> node tree, with libyaml's errors located.
    static func compose(_ text: String, file: String) throws -> Node {
        do {
            // No node at all (blank, comments only), or a bare `---` / `~`: no keys to read.
            guard let node = try Yams.compose(yaml: text),
                  !ConfigValue(node: node, path: "", file: file).isNull else { throw ConfigError("\(file): the document is empty") }
            return node
        } catch let e as ConfigError {
            throw e
        } catch let e as YamlError {
            throw ConfigError(yamlErrorMessage(e, file: file))
        } catch {
            throw ConfigError("\(file): not valid YAML: \(error)")
        }
    }

    private static func parse(root: Node, file: String, overrides: [String]) throws -> RunConfig {
        let root = try ConfigOverrides.apply(overrides, to: root)
        let top = try ConfigValue(node: root, path: "", file: file).mapping()
        return try decode(top, file: file)
    }

    private static func decode(_ top: ConfigMapping, file: String) throws -> RunConfig {
        let name = try top.string("name", default: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent)
        let seed = UInt64(try top.int("seed", default: 1, 0...Int.max))

        let d = try top.mapping("data")
        let dataset = try d.string("dataset", oneOf: knownDatasets)
        let path = try d.optionalString("path")
        let n = try d.mapping("normalize")
        let mean = try n.doubles("mean", -1e6...1e6)?.map(Float.init) ?? []
        let std = try n.doubles("std", 1e-12...1e6, count: mean.isEmpty ? nil : mean.count)?.map(Float.init) ?? []
        if mean.count != std.count {
            throw (n.optional("mean") ?? n.value).error("normalize needs both mean and std, one value per channel")
        }
        try n.finish()
        let binaryTarget = try d.optionalInt("binary_target", 0...1000)
        let trainLimit = try d.optionalInt("train_limit", 1...)
        let testLimit = try d.optionalInt("test_limit", 1...)
        let syntheticCount = try d.int("synthetic_count", default: 1024, 1...)
        let syntheticClasses = try d.int("synthetic_classes", default: 10, 2...65_536)
        let crop = try d.optionalInt("crop", 1...100_000)
        var randomCrop = false, cropPadding = 0, flip = false, lightingStd = 0.0
        if let augment = d.optional("augment") {
            var seen: Set<String> = []
            for item in try augment.sequence() {
                let op = try item.mapping()
                let type = try op.string("type", oneOf: ["random_crop", "flip", "lighting"])
                guard seen.insert(type).inserted else { throw op.value.error("augmentation '\(type)' is listed twice") }
                switch type {
                case "random_crop":
                    randomCrop = true
                    cropPadding = try op.int("padding", default: 0, 0...1000)
                case "flip": flip = true
                default: lightingStd = try op.double("alphastd", default: 0.1, 0...10)
                }
                try op.finish()
            }
            d.record("augment", augment.node)
        }
        let evalViews = try d.string("eval_views", default: "center", oneOf: ["center", "ten_crop"])
        try d.finish()
        let data = DataConfig(dataset: dataset, path: path, mean: mean, std: std, binaryTarget: binaryTarget,
                              trainLimit: trainLimit, testLimit: testLimit,
                              syntheticCount: syntheticCount, syntheticClasses: syntheticClasses,
                              crop: crop, randomCrop: randomCrop, cropPadding: cropPadding, flip: flip,
                              lightingStd: lightingStd, evalViews: evalViews)

        let mm = try top.requiredMapping("model")
        let model = try ModelSpec.parse(mm)
        if !data.mean.isEmpty && data.mean.count != model.inputShape.channels {
            throw (n.optional("mean") ?? n.value).error("expected \(model.inputShape.channels) per-channel values (the model input has \(model.inputShape.channels) channels), found \(data.mean.count)")
        }
        _ = try model.build()  // shape errors now, with their YAML locations

        let t = try top.mapping("train")
        let epochs = try t.int("epochs", 1...)
        let maxSteps = try t.optionalInt("steps", 1...)
        let batch = try t.int("batch", 1...1_000_000)
        let evalBatch = try t.int("eval_batch", default: 64, 1...1_000_000)
        let logEvery = try t.int("log_every", default: 0, 0...)
        let onNaN = try t.string("on_nan", default: "stop", oneOf: ["stop", "skip"])
        let stop = try t.mapping("stop")
        let timeLimit = try stop.optional("time_limit").map { v -> Double in
            let seconds = try v.double(1...1e9)
            stop.record("time_limit", Node(String(seconds)))
            return seconds
        }
        let targetTop1 = try stop.optional("target_top1").map { v -> Double in
            let target = try v.double(0...1)
            stop.record("target_top1", Node(String(target)))
            return target
        }
        let patience = try stop.optionalInt("patience", 1...)
        try stop.finish()
        let o = try t.mapping("optimizer")
        _ = try o.string("type", default: "sgd", oneOf: ["sgd"])
        let optimizer = OptimizerConfig(learningRate: try o.double("lr", 0...100, openLower: true),
                                        momentum: try o.double("momentum", default: 0, 0...0.9999),
                                        nesterov: try o.bool("nesterov", default: false),
                                        weightDecay: try o.double("weight_decay", default: 0, 0...1))
        if optimizer.nesterov && optimizer.momentum == 0 {
            throw (o.optional("nesterov") ?? o.value).error("nesterov needs momentum > 0")
        }
        try o.finish()
        let s = try t.mapping("schedule")
        let kind = ScheduleConfig.Kind(rawValue: try s.string("type", default: "constant",
                                                              oneOf: ScheduleConfig.Kind.allCases.map(\.rawValue)))!
        var milestones: [Double] = []
        if kind == .multistep {
            let raw = try s.require("milestones")
            milestones = try s.doubles("milestones", 0...1e6) ?? []
            if milestones.isEmpty || milestones != milestones.sorted() {
                throw raw.mismatch("a non-empty increasing list of epochs")
            }
        }
        let schedule = ScheduleConfig(
            kind: kind,
            stepSize: kind == .step ? try s.double("step_size", 0...1e6, openLower: true) : 1,
            gamma: kind == .step || kind == .multistep ? try s.double("gamma", default: 0.1, 0...1, openLower: true) : 1,
            milestones: milestones,
            minLearningRate: kind == .cosine ? try s.double("min_lr", default: 0, 0...100) : 0,
            warmupEpochs: try s.double("warmup_epochs", default: 0, 0...1e6))
        try s.finish()
        try t.finish()
        let train = TrainConfig(epochs: epochs, maxSteps: maxSteps, batch: batch, evalBatch: evalBatch,
                                optimizer: optimizer, schedule: schedule, logEvery: logEvery, onNaN: onNaN,
                                timeLimit: timeLimit, targetTop1: targetTop1, patience: patience)

        let r = try top.mapping("runtime")
        var workers: Int? = nil
        if let w = r.optional("workers") {
            if (try? w.string()) == "auto" { r.record("workers", Node("auto")) } else {
                guard let n = try? w.int(1...4096) else { throw w.mismatch("an integer in [1, 4096] or auto") }
                workers = n
                r.record("workers", Node(String(n)))
            }
        } else {
            r.record("workers", Node("auto"))
        }
        let bind = try r.string("bind", default: "core", oneOf: ["core", "none"])
        let shardSchedule = try r.string("schedule", default: "dynamic", oneOf: ["dynamic", "static"])
        let shardValue = r.optional("shard")
        let shard = try r.int("shard", default: batch, 1...)
        if batch % shard != 0 {
            throw (shardValue ?? r.value).error("the global batch \(batch) must be a multiple of the shard size \(shard)")
        }
        let batchNormStatistics = try r.string("batchnorm", default: "shard", oneOf: ["shard", "global"])
        let sync = try r.mapping("sync")
        let syncEvery = try sync.int("every", default: 1, 1...1_000_000)
        let averageMomentum = try sync.string("momentum", default: "average", oneOf: ["average", "local"]) == "average"
        try sync.finish()
        try r.finish()
        let c = try top.mapping("checkpoint")
        let checkpoint = CheckpointConfig(everySteps: try c.int("every_steps", default: 0, 0...),
                                          everyEpochs: try c.int("every_epochs", default: 1, 0...),
                                          keep: try c.int("keep", default: 3, 1...),
                                          best: try c.string("best", default: "top1", oneOf: ["top1", "loss", "none"]))
        try c.finish()
        try top.finish()

        let resolved = (try? Yams.serialize(node: top.resolvedNode)) ?? ""
        return RunConfig(name: name, seed: seed, data: data, model: model, train: train,
                         runtime: RuntimeConfig(workers: workers, bind: bind, shard: shard, syncEvery: syncEvery,
                                                 averageMomentum: averageMomentum, schedule: shardSchedule,
                                                 batchNormStatistics: batchNormStatistics),
                         checkpoint: checkpoint,
                         resolvedYAML: resolved, file: file,
                         resolvedModelYAML: (try? Yams.serialize(node: mm.resolvedNode)) ?? "")
    }
}

/// libyaml's message with its line and column, without Swift type noise.
private func yamlErrorMessage(_ e: YamlError, file: String) -> String {
    switch e {
    case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
         .composer(let context, let problem, let mark, _):
        return "\(file): not valid YAML: line \(mark.line), column \(mark.column): \(problem)\(context.map { " (\($0.text))" } ?? "")"
    case .duplicatedKeysInMapping(let duplicates, let context):
        let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
        return "\(file):\(context.mark.line): duplicate key \(keys) (a key may appear once per mapping)"
    default:
        return "\(file): not valid YAML: \(e)"
    }
}
