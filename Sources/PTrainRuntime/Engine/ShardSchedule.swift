import PTrain

/// Which shards of a step a worker computes. Static: a fixed contiguous
/// block per worker (`ShardPlan.shards(of:)`), summed in the worker's own
/// subtree of the canonical tree. Dynamic: workers claim shards one at a time
/// from a shared counter and leave each shard's gradient in its own leaf
/// buffer; the tree is then summed over the leaves, so who computed a shard
/// never changes the bits.
extension DataParallelEngine {
    /// Computes worker w's gradients of step k (k within the run of steps):
    /// in its gradient arena (static) or in the claimed shards' leaves
    /// (dynamic). `scale` multiplies each shard's loss gradient.
    func computeGradients(_ w: Int, step k: Int, scale: Float) {
        let r = replicas[w]
        r.network.context.epoch = state.epoch
        guard dynamicSchedule else {
            let shards = plan.shards(of: w)
            r.gradient(shards: shards.lowerBound, shards.upperBound, step: k, pipeline: pipeline,
                       shardSize: plan.shardSize, gradScale: scale)
            return
        }
        // Step k's shards are tickets k S ..< (k + 1) S of the run; claim until none is left.
        let first = k * plan.shards, end = first + plan.shards
        while true {
            var t = nextShard.load(ordering: .relaxed)
            while t < end {
                let (exchanged, original) = nextShard.compareExchange(expected: t, desired: t + 1, ordering: .relaxed)
                if exchanged { break }
                t = original
            }
            guard t < end else { return }
            let s = t - first
            r.shardGradient(s, step: k, pipeline: pipeline, shardSize: plan.shardSize, gradScale: scale)
            leafPointers[s].update(from: r.gradients.pointer, count: model.layout.totalCount)
        }
    }
}
