/// Loss, accuracy and time counters of the engine's workers.
extension DataParallelEngine {
    /// Sums over workers since the last `resetCounters()`; times are those of
    /// the slowest worker in each phase (the one a step waits for), in seconds.
    public struct Counters: Sendable {
        public var loss = 0.0, correct = 0
        public var data = 0.0, compute = 0.0, reduce = 0.0, update = 0.0
        /// Adding the processes' sums (MPI), part of the step's reduction time.
        public var crossReduce = 0.0
        /// Waiting at the step's barriers for slower workers (the step's idle time).
        public var waiting = 0.0
    }

    public func resetCounters() { replicas.forEach { $0.resetCounters() } }

    /// The counters of every worker of every process: loss and correct
    /// predictions summed, times those of this process's slowest worker.
    /// Collective when there are several processes (all ranks call it at the
    /// same point).
    public func gatherCounters() -> Counters {
        var c = Counters()
        for r in replicas {
            c.loss += r.lossSum; c.correct += r.correct
            c.data = max(c.data, r.data.total); c.compute = max(c.compute, r.compute.total)
            c.reduce = max(c.reduce, r.reduce.total); c.update = max(c.update, r.update.total)
            c.crossReduce = max(c.crossReduce, r.crossReduce.total)
            c.waiting = max(c.waiting, r.waiting.total)
        }
        if group.size > 1 {
            var totals = [c.loss, Double(c.correct)]
            group.sum(&totals, count: 2)
            c.loss = totals[0]; c.correct = Int(totals[1])
        }
        return c
    }
}
