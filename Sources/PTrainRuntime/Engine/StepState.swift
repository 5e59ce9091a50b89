/// What the workers do on the next `pool.run()`, published by the
/// coordinator before it releases them (the start barrier orders it).
/// A run of training steps happens entirely among the workers (barriers
/// separate the phases of each step); the coordinator only wakes at its end.
final class StepState: @unchecked Sendable {
    enum Mode { case trainSteps, evaluate }
    var mode = Mode.trainSteps
    var order: [Int] = []
    var epoch = 0
    /// First step (within the epoch) and number of steps of the run.
    var first = 0, count = 0
    /// Evaluation views per sample (1: centre crop; 10: ten-crop).
    var views = 1
    /// `[stepsPerEpoch]`: learning rate and "average after" flag per step of the run.
    var rates: UnsafeMutablePointer<Float>
    var averageAfter: UnsafeMutablePointer<Bool>
    /// Steps completed; set by the first active worker.
    var completed = 0
    /// Steps whose update was skipped because the gradient was not finite.
    var skipped = 0
    /// Decided by the first active worker before the end-of-step barrier
    /// of step k: the run ends after step k (an interrupt arrived); -1:
    /// not decided. A step index, not a flag: in parameter averaging no
    /// barrier separates one step's end from the next one's start, so a
    /// worker still reading step k's decision may see the first worker
    /// already deciding for step k + 1.
    var stopAfter = -1
    init(capacity: Int) {
        rates = .allocate(capacity: capacity)
        averageAfter = .allocate(capacity: capacity)
    }
    deinit { rates.deallocate(); averageAfter.deallocate() }
}
