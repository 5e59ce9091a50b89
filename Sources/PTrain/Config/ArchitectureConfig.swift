import Yams

/// `train.architecture:` — bilevel architecture search (DARTS, Liu et al.
/// 2019). Present: every step first updates the architecture parameters
/// (`ParameterRole.architecture`, the `mixed` layers' alpha) on a batch of
/// the ARCHITECTURE half of the training split with Adam, then the weights on
/// a batch of the other half with `train.optimizer`, as DARTS alternates them.
///
///     architecture:
///       lr: 3.0e-4               # the paper's values are the defaults
///       betas: [0.5, 0.999]
///       weight_decay: 1.0e-3     # L2 in the gradient, as torch.optim.Adam
///       split: 0.5               # fraction of the training split alpha learns on
///       order: first             # first: xi = 0; second: the unrolled gradient
///       xi: 0.025                # second order's virtual step (default: the weights' lr)
public struct ArchitectureConfig: Sendable, Equatable {
    /// `order:` — how alpha's gradient treats the weights' dependence on alpha.
    public enum Order: String, ConfigOption {
        /// xi = 0: the validation loss's gradient at the current weights.
        case first
        /// DARTS's unrolled approximation: the gradient at the weights after
        /// one virtual SGD step, minus xi times a finite-difference
        /// Hessian-vector product.
        case second
    }

    /// Adam (kind `.adam`) over the architecture parameters.
    public var optimizer: OptimizerConfig
    public var order: Order
    /// Fraction of the training split (after any `data.validation` hold-out)
    /// the architecture steps read; the weights train on the rest.
    public var split: Double
    /// Second order's virtual learning rate; nil: the weights' learning rate of the step.
    public var xi: Double?

    public init(optimizer: OptimizerConfig = OptimizerConfig(kind: .adam, learningRate: 3e-4, weightDecay: 1e-3, betas: (0.5, 0.999)),
                order: Order = .first, split: Double = 0.5, xi: Double? = nil) {
        self.optimizer = optimizer; self.order = order; self.split = split; self.xi = xi
    }

    /// Decodes the section; `model` must have architecture parameters.
    static func decode(_ a: ConfigMapping, model: Model) throws -> ArchitectureConfig {
        guard !model.layout.architectureParameters.isEmpty else {
            throw a.value.error("the model has no architecture parameters (a 'mixed' layer's alpha); a bilevel search needs at least one")
        }
        var optimizer = OptimizerConfig(kind: .adam, learningRate: try a.double("lr", default: 3e-4, 0...100, openLower: true),
                                        weightDecay: try a.double("weight_decay", default: 1e-3, 0...1))
        if let betas = try a.doubles("betas", 0...0.999999, count: 2) {
            optimizer.betas = (betas[0], betas[1])
        } else {
            optimizer.betas = (0.5, 0.999)
            a.record("betas", Node([Node("0.5"), Node("0.999")], .implicit, .flow))
        }
        optimizer.eps = try a.double("eps", default: 1e-8, 0...1, openLower: true)
        let order: Order = try a.option("order", default: .first)
        let split = try a.double("split", default: 0.5, 0...1, openLower: true)
        guard split < 1 else { throw a.optional("split")!.error("expected a fraction below 1 (the weights need the rest), found 1") }
        let xi = try a.optional("xi").map { v -> Double in
            guard order == .second else { throw v.error("xi is the second-order virtual step; this search is order: first") }
            let xi = try v.double(0...100)
            a.record("xi", Node(String(xi)))
            return xi
        }
        try a.finish()
        return ArchitectureConfig(optimizer: optimizer, order: order, split: split, xi: xi)
    }
}
