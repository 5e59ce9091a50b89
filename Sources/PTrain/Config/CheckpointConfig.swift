/// `checkpoint:` — when checkpoints are written and which are kept.
public struct CheckpointConfig: Sendable {
    /// The metric that ranks checkpoints (`checkpoint.best`).
    public enum BestMetric: String, ConfigOption {
        /// Test top-1, higher is better.
        case top1
        /// Test loss, lower is better.
        case loss
        /// No ranking: no best checkpoint is kept.
        case none
    }

    /// Every N optimizer steps (0: off).
    public var everySteps: Int
    /// Every N epochs (0: off). A checkpoint is also written at the end of
    /// training, on SIGINT/SIGTERM, on SIGUSR1 and at the time limit.
    public var everyEpochs: Int
    /// The newest K checkpoints are kept (and the best one).
    public var keep: Int
    /// Metric that ranks checkpoints: `top1` (higher is better), `loss`
    /// (test loss, lower is better) or `none`.
    public var best: BestMetric

    /// Decodes the `checkpoint:` section.
    public static func decode(_ c: ConfigMapping) throws -> CheckpointConfig {
        let checkpoint = CheckpointConfig(everySteps: try c.int("every_steps", default: 0, 0...),
                                          everyEpochs: try c.int("every_epochs", default: 1, 0...),
                                          keep: try c.int("keep", default: 3, 1...),
                                          best: try c.option("best", default: .top1))
        try c.finish()
        return checkpoint
    }
}
