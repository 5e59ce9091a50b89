/// One optimizer step over a range of the flat arenas: SGD for trainable
/// tensors, and for running statistics (batch norm) the exponential average
/// `running = (1 - momentum) * running + momentum * g`, where the reduced
/// gradient slot `g` holds the global batch's statistic (see `ParameterSpec`).
/// Works on any sub-range, so each worker can update its own slice.
public struct ParameterUpdate: Sendable {
    public let sgd: SGD
    /// Running-statistic tensors: arena range and momentum, in arena order.
    private let statistics: [(range: Range<Int>, momentum: Float)]

    public init(optimizer: OptimizerConfig, layout: ParameterLayout) {
        sgd = SGD(config: optimizer)
        statistics = layout.runningStatistics.map { ($0.range, $0.runningAverageMomentum!) }
    }

    /// Updates `range` of the arenas whose starts are `w`, `g`, `v`.
    public func apply(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                      velocity v: UnsafeMutablePointer<Float>, range: Range<Int>, learningRate lr: Float) {
        var cursor = range.lowerBound
        for s in statistics where s.range.overlaps(range) {
            let lo = max(s.range.lowerBound, range.lowerBound), hi = min(s.range.upperBound, range.upperBound)
            if lo > cursor {
                sgd.update(parameters: w + cursor, gradients: g + cursor, velocity: v + cursor, count: lo - cursor, learningRate: lr)
            }
            for i in lo..<hi { w[i] += s.momentum * (g[i] - w[i]) }
            cursor = hi
        }
        if cursor < range.upperBound {
            sgd.update(parameters: w + cursor, gradients: g + cursor, velocity: v + cursor,
                       count: range.upperBound - cursor, learningRate: lr)
        }
    }
}
