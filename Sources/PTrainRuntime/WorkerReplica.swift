import PTrain
import PTrainData
import PTrainKernels

/// Everything one worker owns: its replica of the model (layers with their
/// scratch, activations), its gradient arena, the buffers of its part of the
/// gradient tree, and its counters. Touched only by its own worker thread
/// during a step; the coordinator reads the counters between steps.
final class WorkerReplica {
    let network: Network
    /// The training network's gradient arena.
    let gradients: FloatBuffer
    let evalNetwork: Network
    /// `partial[d]` holds the left subtree's sum at depth d while the right
    /// subtree is computed (depth <= log2(shards per worker)).
    let partial: [FloatBuffer]
    /// Dataset indices of the shard being filled.
    let indices: UnsafeMutablePointer<Int>

    var lossSum: Double = 0
    var correct = 0
    /// Evaluation: correct top-5 predictions, and `[evalBatch, classes]`
    /// class probabilities averaged over the views of each sample.
    var correct5 = 0
    let probabilities: FloatBuffer
    var data = Stopwatch(), compute = Stopwatch(), reduce = Stopwatch(), update = Stopwatch()
    /// Time spent waiting for the other workers at step barriers (this sub-run).
    var waiting = Stopwatch()

    init(network: Network, evalNetwork: Network, shardsPerWorker: Int, partials: Bool = true) {
        self.network = network
        gradients = network.gradients!
        self.evalNetwork = evalNetwork
        probabilities = FloatBuffer(count: evalNetwork.maxBatch * evalNetwork.model.outputShape.count)
        var depth = 0
        while (1 << depth) < shardsPerWorker { depth += 1 }
        let count = network.gradients!.count
        partial = partials ? (0..<depth).map { _ in FloatBuffer(count: count) } : []
        indices = .allocate(capacity: network.maxBatch)
    }

    deinit { indices.deallocate() }

    func resetCounters() {
        lossSum = 0; correct = 0
        data.reset(); compute.reset(); reduce.reset(); update.reset()
    }

    /// The gradient of shard `shard` alone, left in `gradients`.
    func shardGradient(_ shard: Int, order: UnsafePointer<Int>, base: Int, shardSize: Int, set: SampleSet, gradScale: Float) {
        let g = gradients
        g.zero()
        data.start()
        let first = base + shard * shardSize
        for i in 0..<shardSize {
            indices[i] = order[first + i]
            network.context.sampleIndices[i] = order[first + i]
        }
        set.fill(UnsafeBufferPointer(start: indices, count: shardSize), input: network.input.pointer,
                 labels: network.labels.pointer, epoch: network.context.epoch, seed: network.context.seed)
        data.stop()
        compute.start()
        network.forward(batch: shardSize, training: true)
        lossSum += Double(network.loss(batch: shardSize, gradScale: gradScale, correct: &correct))
        network.backward(batch: shardSize)
        compute.stop()
    }

    /// Sum of the gradients of shards `[lo, hi)` in the canonical tree order
    /// (see `ShardPlan`), left in `gradients`.
    func gradient(shards lo: Int, _ hi: Int, depth: Int = 0, order: UnsafePointer<Int>, base: Int,
                  shardSize: Int, set: SampleSet, gradScale: Float) {
        if hi - lo == 1 {
            shardGradient(lo, order: order, base: base, shardSize: shardSize, set: set, gradScale: gradScale)
            return
        }
        let mid = lo + (hi - lo) / 2
        gradient(shards: lo, mid, depth: depth + 1, order: order, base: base, shardSize: shardSize, set: set, gradScale: gradScale)
        let g = gradients
        partial[depth].copy(from: g)
        gradient(shards: mid, hi, depth: depth + 1, order: order, base: base, shardSize: shardSize, set: set, gradScale: gradScale)
        reduce.start()
        accumulate(partial[depth].pointer, into: g.pointer, count: g.count)  // left + right (commutative: bitwise equal)
        reduce.stop()
    }
}

/// In-place tree sum of `buffers[lo..<hi]` over `range`, result in
/// `buffers[lo]`: `T(lo, hi) = T(lo, mid) + T(mid, hi)`, `mid = lo + (hi - lo) / 2`,
/// the canonical tree of `ShardPlan` (for shards, or for workers' subtrees).
func treeReduce(_ buffers: UnsafePointer<UnsafeMutablePointer<Float>>, _ lo: Int, _ hi: Int, range: Range<Int>) {
    guard hi - lo > 1 else { return }
    let mid = lo + (hi - lo) / 2
    treeReduce(buffers, lo, mid, range: range)
    treeReduce(buffers, mid, hi, range: range)
    accumulate(buffers[mid] + range.lowerBound, into: buffers[lo] + range.lowerBound, count: range.count)
}
