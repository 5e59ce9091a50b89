/// One optimizer step over a range of the flat arenas: the configured
/// optimizer (SGD, Adam or AdamW) for trainable tensors; for running
/// statistics (batch norm) the exponential average
/// `running = (1 - momentum) * running + momentum * g`, where the reduced
/// gradient slot `g` holds the global batch's statistic (see `ParameterSpec`);
/// nothing at all for the tensors of frozen layers (`train.freeze`: no
/// update, no weight decay, no optimizer-state change; their running
/// statistics still follow the data, as in PyTorch) and for architecture
/// parameters (`ParameterRole.architecture`): their update belongs to the
/// architecture search.
/// Works on any sub-range, so each worker can update its own slice.
///
/// The optimizer state arena holds `stateCount` floats: SGD's momentum in
/// the parameters' layout, or Adam's first moment followed by its second
/// moment (each in the parameters' layout, `arenaCount` floats).
public struct ParameterUpdate: Sendable {
    public let sgd: SGD
    public let adam: Adam
    /// Floats of one parameter arena.
    public let arenaCount: Int
    /// Tensors the optimizer does not step, in arena order: running
    /// statistics (with their momentum), frozen tensors and architecture
    /// parameters (nil: left alone).
    private let held: [(range: Range<Int>, momentum: Float?)]
    /// The ranges the optimizer steps (trainable tensors of unfrozen layers),
    /// in arena order: what gradient clipping measures.
    public let trainableRanges: [Range<Int>]

    /// `frozenLayers`: indices of the layers whose parameters stay fixed.
    public init(optimizer: OptimizerConfig, layout: ParameterLayout, frozenLayers: Set<Int> = []) {
        sgd = SGD(config: optimizer)
        adam = Adam(config: optimizer)
        arenaCount = layout.totalCount
        held = layout.entries.compactMap { e in
            if let momentum = e.runningAverageMomentum { return (e.range, momentum) }
            return frozenLayers.contains(e.layerIndex) || e.role == .architecture ? (e.range, nil) : nil
        }
        trainableRanges = layout.entries.filter {
            $0.runningAverageMomentum == nil && $0.role != .architecture && !frozenLayers.contains($0.layerIndex)
        }.map(\.range)
    }

    /// Floats of optimizer state per replica.
    public var stateCount: Int { sgd.config.isAdam ? 2 * arenaCount : arenaCount }

    /// Updates `range` of the arenas whose starts are `w`, `g` and `state`
    /// (see the type's comment). `step` is the 1-based number of this update
    /// (Adam's bias correction); `gradientScale` multiplies the trainable
    /// tensors' gradients (gradient clipping).
    public func apply(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                      state: UnsafeMutablePointer<Float>, range: Range<Int>, learningRate lr: Float,
                      step: Int, gradientScale: Float = 1) {
        func optimize(_ lo: Int, _ hi: Int) {
            guard lo < hi else { return }
            if sgd.config.isAdam {
                adam.update(parameters: w + lo, gradients: g + lo, firstMoment: state + lo, secondMoment: state + arenaCount + lo,
                            count: hi - lo, learningRate: lr, step: step, gradientScale: gradientScale)
            } else {
                sgd.update(parameters: w + lo, gradients: g + lo, velocity: state + lo, count: hi - lo, learningRate: lr,
                           gradientScale: gradientScale)
            }
        }
        var cursor = range.lowerBound
        for s in held where s.range.overlaps(range) {
            let lo = max(s.range.lowerBound, range.lowerBound), hi = min(s.range.upperBound, range.upperBound)
            optimize(cursor, lo)
            if let momentum = s.momentum {
                for i in lo..<hi { w[i] += momentum * (g[i] - w[i]) }
            }
            cursor = hi
        }
        optimize(cursor, range.upperBound)
    }
}
