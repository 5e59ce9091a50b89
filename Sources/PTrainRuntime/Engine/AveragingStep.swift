import PTrain
import PTrainKernels

/// Parameter averaging (`runtime.sync.every: K > 1`): each worker steps its
/// own replica on the mean gradient of its own block of shards, with its own
/// momentum, and at every averaging point the replicas are averaged.
extension DataParallelEngine {
    /// One local step of worker w's replica. Each replica guards its own
    /// update: returns false (and records step k) when its gradient is not finite.
    func averagingStep(_ w: Int, step k: Int, learningRate: Float) -> Bool {
        let r = replicas[w]
        let count = model.layout.totalCount
        // The mean over this worker's own B / (R W) samples.
        computeGradients(w, step: k, scale: 1 / Float(plan.batch / workers))
        guard sum(gradientPointers[w], count: count).isFinite else {
            nonFiniteStep.store(k, ordering: .relaxed)
            return false
        }
        r.update.start()
        optimizerStep.apply(parameters: parameterPointers[w], gradients: gradientPointers[w], velocity: velocityPointers[w],
                            range: 0..<count, learningRate: learningRate)
        r.update.stop()
        return true
    }

    /// Replicas averaged slice by slice in the fixed tree order (across
    /// processes too: the ranks' sums in the same tree), then the mean copied
    /// back into every replica. (Callers separate this from the steps around
    /// it with barriers.)
    func average(_ w: Int) {
        let r = replicas[w]
        let count = model.layout.totalCount
        let slice = ShardPlan.slice(of: w, workers: workers, count: count)
        r.reduce.start()
        func averageSlice(_ pointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>) {
            treeReduce(pointers, 0, workers, range: slice)
            if group.size > 1 {
                pool.barrier.wait()
                if w == 0 {
                    r.crossReduce.start()
                    group.treeSum(pointers[0], count: count)
                    r.crossReduce.stop()
                }
                pool.barrier.wait()
            }
            scale(pointers[0] + slice.lowerBound, by: 1 / Float(workers * group.size), count: slice.count)
            for v in 1..<workers {
                (pointers[v] + slice.lowerBound).update(from: pointers[0] + slice.lowerBound, count: slice.count)
            }
        }
        averageSlice(parameterPointers)
        if config.runtime.momentum == .average { averageSlice(velocityPointers) }
        r.reduce.stop()
    }
}
