import PTrain
import PTrainKernels

/// Synchronous SGD, one step on worker w: its shards' gradients, a barrier,
/// its slice of the fixed-order tree sum, the "gradients ready" point (the
/// sum across processes, the finiteness check), and the SGD update of its
/// slice of the one parameter arena.
extension DataParallelEngine {
    /// Returns whether the update was applied (false: the summed gradient was
    /// not finite, so no worker applied it). `update`: the optimizer's
    /// 1-based update number, if applied. The worker is part `part` of
    /// `parts`: it reduces `reduced` of the per-shard arenas and its rows of
    /// the batch-wide dense gradients, then checks and updates `slice` of the
    /// full arena.
    func synchronousStep(_ w: Int, step k: Int, learningRate: Float, update: Int,
                         part: Int, of parts: Int, slice: Range<Int>, reduced: Range<Int>) -> Bool {
        let r = replicas[w]
        // Each shard's loss is scaled by 1/B so the tree sum is the mean gradient of the global batch.
        computeGradients(w, step: k, scale: 1 / Float(config.train.batch))
        r.waiting.start()
        pool.barrier.wait()  // every shard's (or worker's) gradient is complete
        r.waiting.stop()
        let sums = dynamicSchedule ? leafPointers : gradientPointers
        r.reduce.start()
        treeReduce(sums, 0, dynamicSchedule ? blocks.count : workers, range: reduced)
        if let batchGradients, let summed { scatter(sums[0], reduced, of: batchGradients, into: summed) }
        r.reduce.stop()
        // What this worker wrote into the summed arena, checked as it is written.
        var wroteFinite: Bool?
        if let batchGradients {
            r.compute.start()
            let rows = batchGradients.reduce(part: part, of: parts, workspace: r.network.context.gemm, scratch: r.batchScratch.pointer)
            r.compute.stop()
            wroteFinite = rows && sum(sums[0] + reduced.lowerBound, count: reduced.count).isFinite
        }
        let total = summed?.pointer ?? sums[0]
        guard gradientsReady(w, step: k, sum: total, slice: slice, wroteFinite: wroteFinite) else { return false }
        r.update.start()
        var scale: Float = 1
        if let clipping {
            // Every worker sums its blocks of the reduced gradient, then all
            // add every block's sum in the same order: one norm, same bits.
            clipping.blockSums(total, startingIn: slice, into: normSums)
            pool.barrier.wait()
            scale = clipping.coefficient(norm: clipping.norm(normSums))
        }
        optimizerStep.apply(parameters: parameterPointers[0], gradients: total, state: statePointers[0],
                            range: slice, learningRate: learningRate, step: update, gradientScale: scale)
        r.update.stop()
        return true
    }

    /// Copies `range` of the compact tree sum `compact` to its tensors' places in `summed`.
    private func scatter(_ compact: UnsafeMutablePointer<Float>, _ range: Range<Int>, of batch: BatchWeightGradients,
                         into summed: FloatBuffer) {
        for segment in batch.segments {
            let lo = max(range.lowerBound, segment.compact), hi = min(range.upperBound, segment.compact + segment.count)
            guard lo < hi else { continue }
            (summed.pointer + segment.layout + (lo - segment.compact)).update(from: compact + lo, count: hi - lo)
        }
    }

    /// The one point where this process's summed gradient is complete: the
    /// processes' sums are added (one thread, same tree), each worker checks
    /// its slice for NaN and infinity, and after a barrier every worker agrees
    /// whether to update. Returns false when step k's gradient is not finite.
    /// `wroteFinite`: whether the parts of the sum this worker wrote were
    /// finite (one process with `BatchWeightGradients`: the parts cover the
    /// sum, so that check replaces the slice's, and the sum need not be
    /// complete before it: the agreement barrier completes it).
    private func gradientsReady(_ w: Int, step k: Int, sum total: UnsafeMutablePointer<Float>, slice: Range<Int>,
                                wroteFinite: Bool?) -> Bool {
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
        let finite = group.size == 1 && wroteFinite != nil ? wroteFinite! : sum(total + slice.lowerBound, count: slice.count).isFinite
        if !finite { nonFiniteStep.store(k, ordering: .relaxed) }
        pool.barrier.wait()  // every slice is checked: all workers agree whether to update
        return nonFiniteStep.load(ordering: .relaxed) != k
    }
}
