/// `train.optimizer:` — SGD with momentum (PyTorch semantics).
public struct OptimizerConfig: Sendable, Equatable {
    /// The `type:` spellings (SGD is the only optimizer).
    public enum Kind: String, ConfigOption { case sgd }

    public var kind: Kind
    public var learningRate: Double
    public var momentum: Double
    public var nesterov: Bool
    public var weightDecay: Double
    public init(kind: Kind = .sgd, learningRate: Double, momentum: Double, nesterov: Bool, weightDecay: Double) {
        self.kind = kind; self.learningRate = learningRate; self.momentum = momentum; self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    /// Decodes the `train.optimizer:` section.
    public static func decode(_ o: ConfigMapping) throws -> OptimizerConfig {
        let optimizer = OptimizerConfig(kind: try o.option("type", default: .sgd),
                                        learningRate: try o.double("lr", 0...100, openLower: true),
                                        momentum: try o.double("momentum", default: 0, 0...0.9999),
                                        nesterov: try o.bool("nesterov", default: false),
                                        weightDecay: try o.double("weight_decay", default: 0, 0...1))
        if optimizer.nesterov && optimizer.momentum == 0 {
            throw (o.optional("nesterov") ?? o.value).error("nesterov needs momentum > 0")
        }
        try o.finish()
        return optimizer
    }
}
