import PTrain
import PTrainKernels

/// Synchronous SGD, one step on worker w: its shards' gradients, a barrier,
/// its slice of the fixed-order tree sum, the "gradients ready" point (the
/// sum across processes, the finiteness check), and the SGD update of its
/// slice of the one parameter arena.
extension DataParallelEngine {
    /// Returns whether the update was applied (false: the summed gradient was
    /// not finite, so no worker applied it). `update`: the optimizer's
    /// 1-based update number, if applied.
    func synchronousStep(_ w: Int, step k: Int, learningRate: Float, update: Int, slice: Range<Int>) -> Bool {
        let r = replicas[w]
        // Each shard's loss is scaled by 1/B so the tree sum is the mean gradient of the global batch.
        computeGradients(w, step: k, scale: 1 / Float(config.train.batch))
        r.waiting.start()
        pool.barrier.wait()  // every shard's (or worker's) gradient is complete
        r.waiting.stop()
        let sums = dynamicSchedule ? leafPointers : gradientPointers
        r.reduce.start()
        treeReduce(sums, 0, dynamicSchedule ? blocks.count : workers, range: slice)
        r.reduce.stop()
        guard gradientsReady(w, step: k, sum: sums[0], slice: slice) else { return false }
        r.update.start()
        var scale: Float = 1
        if let clipping {
            // Every worker sums its blocks of the reduced gradient, then all
            // add every block's sum in the same order: one norm, same bits.
            clipping.blockSums(sums[0], startingIn: slice, into: normSums)
            pool.barrier.wait()
            scale = clipping.coefficient(norm: clipping.norm(normSums))
        }
        optimizerStep.apply(parameters: parameterPointers[0], gradients: sums[0], state: statePointers[0],
                            range: slice, learningRate: learningRate, step: update, gradientScale: scale)
        r.update.stop()
        return true
    }

    /// The one point where this process's summed gradient is complete: the
    /// processes' sums are added (one thread, same tree), each worker checks
    /// its slice for NaN and infinity, and after a barrier every worker agrees
    /// whether to update. Returns false when step k's gradient is not finite.
    private func gradientsReady(_ w: Int, step k: Int, sum total: UnsafeMutablePointer<Float>, slice: Range<Int>) -> Bool {
        let r = replicas[w]
        if group.size > 1 {
            pool.barrier.wait()  // this process's sum is complete
            if participation.rank[w] == 0 {
                r.crossReduce.start()
                group.treeSum(total, count: model.layout.totalCount)
                r.crossReduce.stop()
            }
            pool.barrier.wait()
        }
        if !sum(total + slice.lowerBound, count: slice.count).isFinite { nonFiniteStep.store(k, ordering: .relaxed) }
        pool.barrier.wait()  // every slice is checked: all workers agree whether to update
        return nonFiniteStep.load(ordering: .relaxed) != k
    }
}
