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
}

extension TrainConfig {
    /// Decodes the `train:` section, with its `stop:`, `optimizer:` and `schedule:` mappings.
    public static func decode(_ t: ConfigMapping) throws -> TrainConfig {
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
        try t.finish()
        return TrainConfig(epochs: epochs, maxSteps: maxSteps, batch: batch, evalBatch: evalBatch,
                           optimizer: optimizer, schedule: schedule, logEvery: logEvery, onNaN: onNaN,
                           timeLimit: timeLimit, targetTop1: targetTop1, patience: patience)
    }
}
