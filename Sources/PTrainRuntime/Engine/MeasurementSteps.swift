import PTrain

extension DataParallelEngine {
    /// Steps for throughput measurements (`bench`, `scale`): `count` steps at
    /// a tiny fixed learning rate, cycling through the current epoch's steps
    /// from `position`, which advances.
    public func measurementSteps(_ count: Int, position: inout Int) throws {
        let perEpoch = stepsPerEpoch
        guard perEpoch > 0 else {
            throw RunError("train.batch \(config.train.batch) is larger than the \(train.count) training samples")
        }
        var left = count
        while left > 0 {
            let first = position % perEpoch
            let chunk = min(left, perEpoch - first)
            _ = steps(first: first, count: chunk, learningRate: { _ in 1e-4 })
            position += chunk
            left -= chunk
        }
    }
}
