/// How a global batch is cut into shards and shards are given to workers, and
/// how the flat gradient arena is cut into slices for the reduce-scatter.
///
/// The gradient of a step is the sum over shards in ONE fixed binary tree:
/// `T(lo, hi) = T(lo, mid) + T(mid, hi)` with `mid = lo + (hi - lo) / 2`.
/// Worker w owns shards `[w S/W, (w+1) S/W)`; when W is a power of two that
/// divides S, every worker's block is a whole subtree, and combining the
/// workers' results pairwise (`(b0 + b1) + (b2 + b3)`) completes the same tree.
/// So the summed gradient, and hence the weights, are bitwise identical for
/// every such W (floating-point addition is commutative but not associative:
/// only the tree shape matters, not who computes it).
///
/// With the dynamic schedule, blocks of shards (`blocks`: the tree's subtrees
/// at the depth that gives about two per worker) go to whichever worker is
/// free; each block's sum (the canonical subtree, computed by one worker) is
/// kept in its own leaf buffer and the tree is then summed over the leaves,
/// so the result is the same for ANY worker count, and the leaf buffers
/// number about twice the workers, not the shards.
public struct ShardPlan: Sendable, Equatable {
    public let batch: Int, shardSize: Int, workers: Int
    /// Shards claimed dynamically rather than in fixed blocks.
    public let dynamic: Bool
    public var shards: Int { batch / shardSize }

    public init(batch: Int, shardSize: Int, workers: Int, dynamic: Bool = false) {
        self.batch = batch; self.shardSize = shardSize; self.workers = workers; self.dynamic = dynamic
    }

    /// Why this plan cannot run, or nil: static blocks need the workers to
    /// split the shards evenly.
    public var problem: String? {
        if batch % shardSize != 0 { return "the global batch \(batch) is not a multiple of the shard size \(shardSize)" }
        if !dynamic && shards % workers != 0 {
            return "\(workers) workers cannot share \(shards) shards (batch \(batch) / shard \(shardSize)) evenly; use a worker count that divides \(shards)"
        }
        return nil
    }

    /// Whether results are bitwise identical to any other deterministic plan
    /// with the same batch and shard size.
    public var isCanonical: Bool { dynamic || (workers & (workers - 1) == 0 && shards % workers == 0) }

    /// Dynamic schedule: the claimable blocks, in shard order: the canonical
    /// tree's nodes at the first depth with at least 2 W nodes (a power of
    /// two), or at the last depth where every node has two shards or more.
    /// Node i of that depth is leaf i: the tree over the leaves (split at the
    /// middle leaf) is the shards' tree above that depth.
    public var blocks: [Range<Int>] {
        var ranges = [0..<shards]
        while ranges.count < 2 * workers && ranges.allSatisfy({ $0.count >= 2 }) {
            ranges = ranges.flatMap { r in [r.lowerBound..<(r.lowerBound + r.count / 2), (r.lowerBound + r.count / 2)..<r.upperBound] }
        }
        return ranges
    }

    /// Shards of worker w.
    public func shards(of w: Int) -> Range<Int> {
        let per = shards / workers
        return (w * per)..<((w + 1) * per)
    }

    /// Worker w's slice of an arena of `count` floats for the reduce-scatter
    /// and update: contiguous, 16-float aligned, covering everything once.
    public static func slice(of w: Int, workers: Int, count: Int) -> Range<Int> {
        let blocks = (count + 15) / 16
        let lo = min(count, (blocks * w / workers) * 16), hi = min(count, (blocks * (w + 1) / workers) * 16)
        return lo..<hi
    }
}
