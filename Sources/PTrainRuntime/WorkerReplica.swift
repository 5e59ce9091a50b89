import PTrain
import PTrainData
import PTrainKernels

/// Everything one worker owns: its replica of the model (layers with their
/// scratch, activations), its gradient arena, the buffers of its part of the
/// gradient tree, and its counters. Touched only by its own worker thread
/// during a step; the coordinator reads the counters between steps.
final class WorkerReplica {
    let network: Network
    let evalNetwork: Network
    /// `partial[d]` holds the left subtree's sum at depth d while the right
    /// subtree is computed (depth <= log2(shards per worker)).
    let partial: [FloatBuffer]
    /// Dataset indices of the shard being filled.
    let indices: UnsafeMutablePointer<Int>

    var lossSum: Double = 0
    var correct = 0
    var data = Stopwatch(), compute = Stopwatch(), reduce = Stopwatch(), update = Stopwatch()

    init(network: Network, evalNetwork: Network, shardsPerWorker: Int) {
        self.network = network
        self.evalNetwork = evalNetwork
        var depth = 0
        while (1 << depth) < shardsPerWorker { depth += 1 }
        partial = (0..<depth).map { _ in FloatBuffer(count: network.gradients.count) }
        indices = .allocate(capacity: network.maxBatch)
    }

    deinit { indices.deallocate() }

    func resetCounters() {
        lossSum = 0; correct = 0
        data.reset(); compute.reset(); reduce.reset(); update.reset()
    }

    /// Sum of the gradients of shards `[lo, hi)` in the canonical tree order
    /// (see `ShardPlan`), left in `network.gradients`.
    func gradient(shards lo: Int, _ hi: Int, depth: Int = 0, order: UnsafePointer<Int>, base: Int,
                  shardSize: Int, set: SampleSet, gradScale: Float) {
        if hi - lo == 1 {
            let g = network.gradients
            g.zero()
            data.start()
            let first = base + lo * shardSize
            for i in 0..<shardSize {
                indices[i] = order[first + i]
                network.context.sampleIndices[i] = order[first + i]
            }
            set.fill(UnsafeBufferPointer(start: indices, count: shardSize), input: network.input.pointer,
                     labels: network.labels.pointer)
            data.stop()
            compute.start()
            network.forward(batch: shardSize, training: true)
            lossSum += Double(network.loss(batch: shardSize, gradScale: gradScale, correct: &correct))
            network.backward(batch: shardSize)
            compute.stop()
            return
        }
        let mid = lo + (hi - lo) / 2
        gradient(shards: lo, mid, depth: depth + 1, order: order, base: base, shardSize: shardSize, set: set, gradScale: gradScale)
        let g = network.gradients
        partial[depth].copy(from: g)
        gradient(shards: mid, hi, depth: depth + 1, order: order, base: base, shardSize: shardSize, set: set, gradScale: gradScale)
        reduce.start()
        accumulate(partial[depth].pointer, into: g.pointer, count: g.count)  // left + right (commutative: bitwise equal)
        reduce.stop()
    }
}

/// In-place pairwise tree sum of `buffers[0..<n]` over `range`, result in
/// `buffers[0]`: level 1 adds b1 into b0, b3 into b2, ...; level 2 adds b2
/// into b0, ... — the recursive-halving tree of `ShardPlan` for power-of-two n.
func treeReduce(_ buffers: UnsafePointer<UnsafeMutablePointer<Float>>, count n: Int, range: Range<Int>) {
    var stride = 1
    while stride < n {
        var i = 0
        while i + stride < n {
            accumulate(buffers[i + stride] + range.lowerBound, into: buffers[i] + range.lowerBound, count: range.count)
            i += 2 * stride
        }
        stride *= 2
    }
}
