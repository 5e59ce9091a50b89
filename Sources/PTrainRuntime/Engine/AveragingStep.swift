import PTrain
import PTrainKernels

/// Parameter averaging (`runtime.sync.every: K > 1`): each worker steps its
/// own replica on the mean gradient of its own block of shards (clipped by its
/// own norm with `train.clip_grad_norm`), with its own optimizer state, and
/// at every averaging point the replicas are averaged. With
/// `sync.momentum: average` the optimizer state is averaged too (SGD's
/// momentum, or Adam's two moments); with `local` each replica keeps its own.
/// Adam's update count stays each replica's own either way.
extension DataParallelEngine {
    /// One local step of worker w's replica. Each replica guards its own
    /// update: returns false (and records step k) when its gradient is not
    /// finite. `update`: the replica's 1-based optimizer update number, if applied.
    func averagingStep(_ w: Int, step k: Int, learningRate: Float, update: Int) -> Bool {
        let r = replicas[w]
        let count = model.layout.totalCount
        // The mean over this worker's own B / (R W) samples.
        computeGradients(w, step: k, scale: 1 / Float(plan.batch / workers))
        guard sum(gradientPointers[w], count: count).isFinite else {
            nonFiniteStep.store(k, ordering: .relaxed)
            return false
        }
        r.update.start()
        var scale: Float = 1
        if let clipping {
            let sums = normSums + w * clipping.blocks.count
            clipping.blockSums(gradientPointers[w], startingIn: 0..<count, into: sums)
            scale = clipping.coefficient(norm: clipping.norm(sums))
        }
        optimizerStep.apply(parameters: parameterPointers[w], gradients: gradientPointers[w], state: statePointers[w],
                            range: 0..<count, learningRate: learningRate, step: update, gradientScale: scale)
        r.update.stop()
        return true
    }

    /// Replicas averaged slice by slice in the fixed tree order (across
    /// processes too: the ranks' sums in the same tree), then the mean copied
    /// back into every replica. (Callers separate this from the steps around
    /// it with barriers.)
    func average(_ w: Int) {
        let r = replicas[w]
        r.reduce.start()
        /// Averages arenas of `count` floats.
        func averageSlice(_ pointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>, count: Int) {
            let slice = ShardPlan.slice(of: w, workers: workers, count: count)
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
        averageSlice(parameterPointers, count: model.layout.totalCount)
        if config.runtime.momentum == .average { averageSlice(statePointers, count: optimizerStep.stateCount) }
        r.reduce.stop()
    }
}
