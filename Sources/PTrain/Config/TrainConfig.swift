import Yams

/// `train:` — how long and how the model is trained and evaluated.
public struct TrainConfig: Sendable {
    /// What a non-finite gradient does (`train.on_nan`).
    public enum NonFinitePolicy: String, ConfigOption {
        /// Stop the run (the default).
        case stop
        /// Skip the update and go on.
        case skip
    }

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
    public var onNaN: NonFinitePolicy
    /// Stop after this many seconds of wall-clock time (checkpointed), if set.
    public var timeLimit: Double?
    /// Stop at the first evaluation whose test top-1 reaches this, if set.
    public var targetTop1: Double?
    /// Early stopping: stop after this many evaluations without a new best
    /// (by `checkpoint.best`, or test top-1), if set.
    public var patience: Int?
    /// Gradient clipping by global L2 norm (`clip_grad_norm`), if set.
    public var clipGradNorm: Double?
    /// Softmax cross-entropy's label smoothing e in [0, 1] (0: one-hot targets).
    public var labelSmoothing: Double = 0
    /// A safetensors file whose tensors matching the model's parameters (name
    /// and shape) replace their initial values (`init_from`); the path as
    /// resolved from the config file's folder.
    public var initFrom: String?
    /// Names of the layers whose parameters stay fixed (`freeze`).
    public var freeze: [String] = []
    /// Bilevel architecture search (`architecture`), if set.
    public var architecture: ArchitectureConfig?
}

extension TrainConfig {
    /// Decodes the `train:` section, with its `stop:`, `optimizer:` and
    /// `schedule:` mappings; `model` is the built model, which `freeze` and
    /// `label_smoothing` are checked against.
    public static func decode(_ t: ConfigMapping, model: Model) throws -> TrainConfig {
        let epochs = try t.int("epochs", 1...)
        let maxSteps = try t.optionalInt("steps", 1...)
        let batch = try t.int("batch", 1...1_000_000)
        let evalBatch = try t.int("eval_batch", default: 64, 1...1_000_000)
        let logEvery = try t.int("log_every", default: 0, 0...)
        let onNaN: NonFinitePolicy = try t.option("on_nan", default: .stop)
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
        let optimizer = try OptimizerConfig.decode(try t.mapping("optimizer"))
        let schedule = try ScheduleConfig.decode(try t.mapping("schedule"))
        let clipGradNorm = try t.optional("clip_grad_norm").map { v -> Double in
            let maxNorm = try v.double(0...1e9, openLower: true)
            t.record("clip_grad_norm", Node(String(maxNorm)))
            return maxNorm
        }
        let labelSmoothing = try t.double("label_smoothing", default: 0, 0...1)
        if labelSmoothing > 0 && model.loss != .softmaxCrossEntropy {
            throw t.optional("label_smoothing")!.error("label smoothing applies to the softmax_cross_entropy loss; this model's loss is \(model.loss.rawValue)")
        }
        let initFrom = try t.optionalString("init_from").map { ConfigFile.path($0, from: t.value.file) }
        let freeze = try decodeFreeze(t, model: model)
        let architecture = try t.optional("architecture").map { v -> ArchitectureConfig in
            let am = try v.mapping()
            let a = try ArchitectureConfig.decode(am, model: model)
            t.record("architecture", am.resolvedNode)
            return a
        }
        try t.finish()
        return TrainConfig(epochs: epochs, maxSteps: maxSteps, batch: batch, evalBatch: evalBatch,
                           optimizer: optimizer, schedule: schedule, logEvery: logEvery, onNaN: onNaN,
                           timeLimit: timeLimit, targetTop1: targetTop1, patience: patience,
                           clipGradNorm: clipGradNorm, labelSmoothing: labelSmoothing, initFrom: initFrom, freeze: freeze,
                           architecture: architecture)
    }
}

extension TrainConfig {
    /// `freeze: [layer names]`: each must name a layer of the model.
    private static func decodeFreeze(_ t: ConfigMapping, model: Model) throws -> [String] {
        guard let list = t.optional("freeze") else { return [] }
        let known = model.layers.map(\.name)
        let names = try list.sequence().map { item -> String in
            let name = try item.string()
            guard known.contains(name) else {
                throw item.error("unknown layer '\(name)' (the model's layers: \(known.joined(separator: ", ")))")
            }
            return name
        }
        t.record("freeze", Node(names.map { Node($0) }, .implicit, .flow))
        return names
    }

    /// Indices (in the model's layers) of the frozen layers.
    public func frozenLayers(of model: Model) -> Set<Int> {
        Set(model.layers.indices.filter { freeze.contains(model.layers[$0].name) })
    }
}
