import Yams

/// `train.optimizer:` — SGD with momentum, Adam or AdamW (PyTorch semantics).
public struct OptimizerConfig: Sendable, Equatable {
    /// The `type:` spellings.
    public enum Kind: String, ConfigOption {
        /// `torch.optim.SGD`: `momentum`, `nesterov`, `weight_decay` (L2 in the gradient).
        case sgd
        /// `torch.optim.Adam`: `betas`, `eps`, `weight_decay` (L2 in the gradient).
        case adam
        /// `torch.optim.AdamW`: `betas`, `eps`, `weight_decay` (decoupled: `p -= lr * wd * p`).
        case adamw
    }

    public var kind: Kind
    public var learningRate: Double
    public var momentum: Double
    public var nesterov: Bool
    public var weightDecay: Double
    /// Adam's moment decay rates (beta1, beta2), each in [0, 1).
    public var betas: (Double, Double)
    /// Adam's denominator term, added to the bias-corrected root of the second moment.
    public var eps: Double
    public init(kind: Kind = .sgd, learningRate: Double, momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0,
                betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8) {
        self.kind = kind; self.learningRate = learningRate; self.momentum = momentum; self.nesterov = nesterov
        self.weightDecay = weightDecay; self.betas = betas; self.eps = eps
    }

    public static func == (a: OptimizerConfig, b: OptimizerConfig) -> Bool {
        a.kind == b.kind && a.learningRate == b.learningRate && a.momentum == b.momentum && a.nesterov == b.nesterov
            && a.weightDecay == b.weightDecay && a.betas == b.betas && a.eps == b.eps
    }

    /// Whether the optimizer keeps Adam's two moments (else SGD's one momentum buffer).
    public var isAdam: Bool { kind != .sgd }

    /// Decodes the `train.optimizer:` section. Keys of another optimizer
    /// (`momentum` with `adam`, `betas` with `sgd`) are unknown keys.
    public static func decode(_ o: ConfigMapping) throws -> OptimizerConfig {
        let kind: Kind = try o.option("type", default: .sgd)
        var optimizer = OptimizerConfig(kind: kind, learningRate: try o.double("lr", 0...100, openLower: true),
                                        weightDecay: try o.double("weight_decay", default: 0, 0...1))
        if kind == .sgd {
            optimizer.momentum = try o.double("momentum", default: 0, 0...0.9999)
            optimizer.nesterov = try o.bool("nesterov", default: false)
            if optimizer.nesterov && optimizer.momentum == 0 {
                throw (o.optional("nesterov") ?? o.value).error("nesterov needs momentum > 0")
            }
        } else {
            // Each beta in [0, 1): 1 would never forget, and its bias correction divides by 0.
            if let betas = try o.doubles("betas", 0...0.999999, count: 2) {
                optimizer.betas = (betas[0], betas[1])
            } else {
                o.record("betas", Node([Node("0.9"), Node("0.999")], .implicit, .flow))
            }
            optimizer.eps = try o.double("eps", default: 1e-8, 0...1, openLower: true)
        }
        try o.finish()
        return optimizer
    }
}
