/// One optimizer step over a range of the flat arenas: SGD for weights; for
/// running statistics (batch norm) the exponential average
/// `running = (1 - momentum) * running + momentum * g`, where the reduced
/// gradient slot `g` holds the global batch's statistic (see `ParameterSpec`);
/// architecture parameters (`ParameterRole.architecture`) are left as they
/// are, velocity included: their update belongs to the architecture search.
/// Works on any sub-range, so each worker can update its own slice.
public struct ParameterUpdate: Sendable {
    public let sgd: SGD
    /// The tensors SGD must not step, in arena order: their arena range and
    /// the running-average momentum (nil: architecture, not touched at all).
    private let exceptions: [(range: Range<Int>, momentum: Float?)]

    public init(optimizer: OptimizerConfig, layout: ParameterLayout) {
        sgd = SGD(config: optimizer)
        exceptions = layout.entries.filter { $0.runningAverageMomentum != nil || $0.role == .architecture }
            .map { ($0.range, $0.runningAverageMomentum) }
    }

    /// Updates `range` of the arenas whose starts are `w`, `g`, `v`.
    public func apply(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                      velocity v: UnsafeMutablePointer<Float>, range: Range<Int>, learningRate lr: Float) {
        var cursor = range.lowerBound
        for s in exceptions where s.range.overlaps(range) {
            let lo = max(s.range.lowerBound, range.lowerBound), hi = min(s.range.upperBound, range.upperBound)
            if lo > cursor {
                sgd.update(parameters: w + cursor, gradients: g + cursor, velocity: v + cursor, count: lo - cursor, learningRate: lr)
            }
            if let momentum = s.momentum {
                for i in lo..<hi { w[i] += momentum * (g[i] - w[i]) }
            }
            cursor = hi
        }
        if cursor < range.upperBound {
            sgd.update(parameters: w + cursor, gradients: g + cursor, velocity: v + cursor,
                       count: range.upperBound - cursor, learningRate: lr)
        }
    }
}
