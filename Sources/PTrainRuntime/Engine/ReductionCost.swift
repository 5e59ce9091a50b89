import PTrain

/// The cost of one synchronous step's shared-memory gradient sum, from the
/// plan alone: the bytes each worker moves, how many of them are in other
/// workers' memory and on other NUMA nodes, and the barriers per step. What
/// `ptrain scale` prints and `tools/scaling-model` projects with.
///
/// The sum is the canonical tree of `ShardPlan` over the workers' arenas
/// (static schedule) or the shards' leaves (dynamic), and every worker sums
/// its own slice of the arena through the whole tree (reduce-scatter; the
/// update then reads the result in place, so there is no allgather). Arena i
/// lives on the node of the worker that first touched it (`FirstTouch`,
/// `MemoryPlacement`). Workers are placed on cores in topology order, so the
/// workers of a NUMA node are consecutive; when each node's workers form one
/// subtree of the canonical tree (a power-of-two block aligned to its size),
/// every node's partial sum is complete before it meets another node's, and
/// only `nodes - 1` additions per slice cross nodes: the tree already
/// reduces within each node first, in the one fixed order (same bits).
public struct ReductionCost: Sendable, Equatable {
    public let workers: Int
    /// Per worker per step, bytes read and written outside the slice sum:
    /// the in-worker partial sums of its shard block (static: per tree node a
    /// copy, read P + write P, and an addition, read 2P + write P) or the
    /// partial sums of each claimed block and its copy into the block's leaf (dynamic).
    public let localBytes: Int
    /// Per worker per step, bytes of its slice of the tree sum (each addition
    /// reads two slices and writes one). The largest over the workers.
    public let sliceBytes: Int
    /// Of `sliceBytes`, those in another worker's arena.
    public let otherWorkerBytes: Int
    /// Of `sliceBytes`, those on another NUMA node than the worker's own
    /// (0 where nodes are unknown: unbound workers).
    public let crossNodeBytes: Int
    /// Additions of the tree whose two operands are on different NUMA nodes.
    public let crossNodeAdditions: Int
    /// Whether every node's arenas form one subtree of the tree (see above).
    public let reducesWithinNodesFirst: Bool
    /// Barriers every worker passes per step (`SynchronousStep` and the step loop).
    public let barriersPerStep: Int

    public var bytesPerWorker: Int { localBytes + sliceBytes }

    /// `parameters`: floats in the per-shard arenas (the tree's: with
    /// `BatchWeightGradients`, the tensors outside the dense layers, whose
    /// gradients are GEMMs over the batch, not sums of arenas); `nodes[w]`: NUMA node of worker w (`MemoryPlacement.nodes`);
    /// `clipping`: `train.clip_grad_norm` is set (one more barrier);
    /// `processes`: MPI ranks (three more barriers).
    public init(plan: ShardPlan, parameters: Int, nodes: [Int?], clipping: Bool = false, processes: Int = 1) {
        precondition(nodes.count == plan.workers)
        let w = plan.workers, p = parameters
        workers = w
        let leafCount = plan.dynamic ? plan.blocks.count : w
        // Which worker first touched leaf i: its owner.
        let owner: (Int) -> Int = { i in
            plan.dynamic ? (0..<w).first { FirstTouch.leaves(of: $0, workers: w, count: leafCount).contains(i) }! : i
        }
        let perWorker = plan.shards / w
        // Dynamic: each claimed block is summed in the worker's own tree (a copy
        // and an addition per inner node), then copied into its leaf.
        let blocksPerWorker = (leafCount + w - 1) / w
        localBytes = plan.dynamic ? 20 * p * max(perWorker - blocksPerWorker, 0) + 8 * p * blocksPerWorker
                                  : 20 * p * max(perWorker - 1, 0)
        let additions = treeAdditions(0, leafCount)
        var slice = 0, other = 0, cross = 0
        for worker in 0..<w {
            let floats = ShardPlan.slice(of: worker, workers: w, count: p).count
            var mine = 0, others = 0, remote = 0
            for (destination, source) in additions {
                mine += 12 * floats
                for (arena, bytes) in [(owner(destination), 8 * floats), (owner(source), 4 * floats)] {
                    if arena != worker { others += bytes }
                    if let here = nodes[worker], let there = nodes[arena], here != there { remote += bytes }
                }
            }
            // The worker a step waits for: most bytes, then most of them remote.
            if (mine, remote, others) > (slice, cross, other) { slice = mine; other = others; cross = remote }
        }
        sliceBytes = slice; otherWorkerBytes = other; crossNodeBytes = cross
        let leafNode: (Int) -> Int? = { nodes[owner($0)] }
        crossNodeAdditions = additions.filter { d, s in
            if let a = leafNode(d), let b = leafNode(s) { return a != b } else { return false }
        }.count
        let subtrees = Set(treeRanges(0, leafCount))
        var byNode: [Int: [Int]] = [:]
        for i in 0..<leafCount { if let n = leafNode(i) { byNode[n, default: []].append(i) } }
        // A node's leaves (ascending) must be exactly one subtree's range.
        reducesWithinNodesFirst = byNode.values.allSatisfy { leaves in
            let range = leaves[0]..<(leaves[leaves.count - 1] + 1)
            return range.count == leaves.count && subtrees.contains(range)
        }
        barriersPerStep = 3 + (clipping ? 1 : 0) + (processes > 1 ? 3 : 0)
    }

    /// "1.0 MiB per worker per step (0 B partial sums, 1.0 MiB slice sum: 512.0 KiB
    /// in other workers' arenas, 0 B across NUMA nodes), 3 barriers per step".
    public var summary: String {
        let f = MemoryEstimate.format
        return "reduction: \(f(bytesPerWorker)) per worker per step (\(f(localBytes)) partial sums, \(f(sliceBytes)) slice sum: "
            + "\(f(otherWorkerBytes)) in other workers' arenas, \(f(crossNodeBytes)) across NUMA nodes, "
            + "\(crossNodeAdditions) cross-node addition\(crossNodeAdditions == 1 ? "" : "s"), within nodes first: "
            + "\(reducesWithinNodesFirst ? "yes" : "no")), \(barriersPerStep) barriers per step"
    }
}

/// The additions of `treeReduce(_, lo, hi)`, in execution order:
/// (destination, source) leaf indices, `buffers[destination] += buffers[source]`.
func treeAdditions(_ lo: Int, _ hi: Int) -> [(Int, Int)] {
    guard hi - lo > 1 else { return [] }
    let mid = lo + (hi - lo) / 2
    return treeAdditions(lo, mid) + treeAdditions(mid, hi) + [(lo, mid)]
}

/// Every subtree of the canonical tree over `[lo, hi)`, as its leaf range.
func treeRanges(_ lo: Int, _ hi: Int) -> [Range<Int>] {
    guard hi - lo > 1 else { return [lo..<hi] }
    let mid = lo + (hi - lo) / 2
    return [lo..<hi] + treeRanges(lo, mid) + treeRanges(mid, hi)
}

extension DataParallelEngine {
    /// This engine's reduction cost with its workers' memory on `nodes`
    /// (`MemoryPlacement.nodes`); nil under parameter averaging, whose
    /// exchange (every K steps) is not this sum.
    public func reductionCost(nodes: [Int?]) -> ReductionCost? {
        averaging ? nil : ReductionCost(plan: plan, parameters: batchGradients?.compactCount ?? model.layout.totalCount,
                                        nodes: nodes, clipping: clipping != nil, processes: group.size)
    }
}
