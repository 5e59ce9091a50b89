/// `train.schedule:` — learning rate over time, in epochs (fractional).
public struct ScheduleConfig: Sendable, Equatable {
    public enum Kind: String, ConfigOption { case constant, step, multistep, cosine }
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

    /// Decodes the `train.schedule:` section; a kind's own keys are read only for that kind.
    public static func decode(_ s: ConfigMapping) throws -> ScheduleConfig {
        let kind: Kind = try s.option("type", default: .constant)
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
        return schedule
    }
}
