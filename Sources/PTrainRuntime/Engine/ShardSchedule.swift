import PTrain
import Synchronization

/// Which shards of a step a worker computes. Static: a fixed contiguous
/// block per worker (`ShardPlan.shards(of:)`), summed in the worker's own
/// subtree of the canonical tree. Dynamic: workers claim shards one at a time
/// from a shared counter and leave each shard's gradient in its own leaf
/// buffer; the tree is then summed over the leaves, so who computed a shard
/// never changes the bits.
extension DataParallelEngine {
    /// Computes worker w's gradients of step k (k within the run of steps):
    /// in its gradient arena (static) or in the claimed shards' leaves
    /// (dynamic: the claimed blocks' leaves). `scale` multiplies each shard's loss gradient.
    /// `architecture`: the pass-th gradient pass of the step's architecture
    /// step (`ArchitectureSearch`), over the architecture batch or (`batch:
    /// .weights`, second order) the weights' batch; its tickets are its own.
    func computeGradients(_ w: Int, step k: Int, scale: Float, architecture pass: Int? = nil, batch: SearchBatch = .architecture) {
        let r = replicas[w]
        r.network.context.epoch = state.epoch
        let source = pass == nil || batch == .weights ? pipeline : architecture!.pipeline
        guard dynamicSchedule else {
            let shards = plan.shards(of: w)
            r.gradient(shards: shards.lowerBound, shards.upperBound, step: k, pipeline: source,
                       shardSize: plan.shardSize, gradScale: scale)
            return
        }
        // Step k's blocks are tickets k B ..< (k + 1) B of the run (an
        // architecture pass's: (k P + pass) B ..< (k P + pass + 1) B, P passes
        // per step, every one taken: the counter never skips a block).
        let first = (pass.map { k * architecture!.passes + $0 } ?? k) * blocks.count, end = first + blocks.count
        while true {
            guard let t = pass == nil ? claim(nextShard, below: end) : claim(nextArchitectureShard, below: end) else { return }
            let b = t - first
            // The block's canonical subtree, summed by this worker alone, is leaf b.
            r.gradient(shards: blocks[b].lowerBound, blocks[b].upperBound, step: k, pipeline: source,
                       shardSize: plan.shardSize, gradScale: scale)
            leafPointers[b].update(from: r.gradients.pointer, count: r.gradients.count)
        }
    }

    /// The next ticket of `counter` if it is below `end`.
    private func claim(_ counter: borrowing Atomic<Int>, below end: Int) -> Int? {
        var t = counter.load(ordering: .relaxed)
        while t < end {
            let (exchanged, original) = counter.compareExchange(expected: t, desired: t + 1, ordering: .relaxed)
            if exchanged { return t }
            t = original
        }
        return nil
    }
}
