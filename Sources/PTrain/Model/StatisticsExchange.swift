/// A barrier all workers of a step pass together (the runtime's pool barrier).
public protocol WorkerBarrier: AnyObject, Sendable {
    func pass()
}

/// Sums small vectors across the workers of a step, for batch norm over the
/// whole global batch: every worker writes its partial sums, all pass a
/// barrier, and each adds the workers' vectors in worker order (so all get
/// the same bits). Two alternating slot sets keep a fast worker's next
/// exchange from overwriting sums a slow one is still reading: a worker can
/// only reach exchange k + 2 after every worker has passed the barrier of
/// exchange k + 1, hence finished reading exchange k.
public final class StatisticsExchange: @unchecked Sendable {
    public let workers: Int
    /// Doubles per worker vector.
    public let capacity: Int
    private let barrier: WorkerBarrier
    /// `[2][workers][capacity]`.
    private let slots: UnsafeMutablePointer<Double>

    public init(workers: Int, capacity: Int, barrier: WorkerBarrier) {
        self.workers = workers
        self.capacity = capacity
        self.barrier = barrier
        slots = .allocate(capacity: 2 * workers * max(capacity, 1))
        slots.initialize(repeating: 0, count: 2 * workers * max(capacity, 1))
    }
    deinit { slots.deallocate() }

    /// Replaces `values[0..<count]` by its sum over all workers. Every worker
    /// calls this the same number of times per step; `round` is the caller's
    /// counter of its calls (one per worker, advanced here).
    public func allReduce(worker: Int, round: inout Int, _ values: UnsafeMutablePointer<Double>, count: Int) {
        precondition(count <= capacity)
        let set = slots + (round & 1) * workers * capacity
        round += 1
        (set + worker * capacity).update(from: values, count: count)
        barrier.pass()
        for i in 0..<count {
            var total = 0.0
            for w in 0..<workers { total += set[w * capacity + i] }
            values[i] = total
        }
    }
}
