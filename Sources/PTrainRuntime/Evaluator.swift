import PTrain
import PTrainData

/// Loss and top-1 accuracy of a network over a whole split, in inference mode,
/// in chunks of the network's batch capacity.
public struct EvalResult: Sendable {
    public let loss: Double
    public let top1: Double
    public let count: Int
    /// Top-5 accuracy (equals 1 when there are at most 5 classes).
    public var top5: Double = .nan
    public init(loss: Double, top1: Double, count: Int, top5: Double = .nan) {
        self.loss = loss; self.top1 = top1; self.count = count; self.top5 = top5
    }
}

public enum Evaluator {
    /// `outputs`, when given, receives each chunk's model outputs `[n, outputs]`.
    public static func evaluate(_ network: Network, on set: SampleSet, epoch: Int = 0,
                                outputs: ((UnsafePointer<Float>, Int) -> Void)? = nil) -> EvalResult {
        var lossSum: Double = 0
        var correct = 0
        var start = 0
        network.context.epoch = epoch
        while start < set.count {
            let n = min(network.maxBatch, set.count - start)
            set.fill(start..<(start + n), input: network.input.pointer, labels: network.labels.pointer)
            for i in 0..<n { network.context.sampleIndices[i] = start + i }
            network.forward(batch: n, training: false)
            outputs?(UnsafePointer(network.output), n)
            lossSum += Double(network.loss(batch: n, gradScale: nil, correct: &correct))
            start += n
        }
        return EvalResult(loss: lossSum / Double(max(set.count, 1)), top1: Double(correct) / Double(max(set.count, 1)),
                          count: set.count)
    }
}
