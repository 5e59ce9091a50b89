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
    /// This worker's partial sums for its rows of the batch-wide dense
    /// gradients (`BatchWeightGradients.scratchFloats`).
    let batchScratch: FloatBuffer

    var lossSum: Double = 0
    var correct = 0
    /// Evaluation: correct top-5 predictions, and `[evalBatch, classes]`
    /// class probabilities averaged over the views of each sample.
    var correct5 = 0
    let probabilities: FloatBuffer
    /// This worker's decode and transform buffers for filling samples.
    let samples = SampleScratch()
    var data = Stopwatch(), compute = Stopwatch(), reduce = Stopwatch(), update = Stopwatch()
    /// Time in the cross-process sum (the one worker of a process that does it).
    var crossReduce = Stopwatch()
    /// Time spent waiting for the other workers at step barriers (this sub-run).
    var waiting = Stopwatch()

    /// `shardsPerWorker`: the most shards the worker sums in one subtree;
    /// `batchScratch`: floats of `BatchWeightGradients` scratch (0: none).
    init(network: Network, evalNetwork: Network, shardsPerWorker: Int, batchScratch: Int = 0) throws(AllocationError) {
        self.network = network
        gradients = network.gradients!
        self.evalNetwork = evalNetwork
        probabilities = FloatBuffer(count: evalNetwork.maxBatch * evalNetwork.model.outputShape.count)
        var depth = 0
        while (1 << depth) < shardsPerWorker { depth += 1 }
        let count = network.gradients!.count
        partial = try (0..<depth).map { _ throws(AllocationError) in try FloatBuffer(count: count, purpose: "the gradient tree") }
        self.batchScratch = try FloatBuffer(count: batchScratch, purpose: "the dense gradients' partial sums")
    }

    func resetCounters() {
        lossSum = 0; correct = 0
        data.reset(); compute.reset(); reduce.reset(); update.reset(); crossReduce.reset(); waiting.reset()
    }

    /// The gradient of shard `shard` of step `step` alone, left in
    /// `gradients`. The shard's samples come from the pipeline's batch buffer.
    func shardGradient(_ shard: Int, step: Int, pipeline: BatchPipeline, shardSize: Int, gradScale: Float) {
        let g = gradients
        g.zero()
        data.start()
        let first = shard * shardSize
        network.context.shard = shard
        pipeline.loadShard(step: step, from: first, count: shardSize, scratch: samples, input: network.input.pointer,
                           labels: network.labels.pointer)
        for i in 0..<shardSize { network.context.sampleIndices[i] = pipeline.sampleIndex(step: step, first + i) }
        data.stop()
        compute.start()
        network.forward(batch: shardSize, training: true)
        lossSum += Double(network.loss(batch: shardSize, gradScale: gradScale, correct: &correct))
        network.backward(batch: shardSize)
        compute.stop()
    }

    /// Sum of the gradients of shards `[lo, hi)` in the canonical tree order
    /// (see `ShardPlan`), left in `gradients`.
    func gradient(shards lo: Int, _ hi: Int, depth: Int = 0, step: Int, pipeline: BatchPipeline,
                  shardSize: Int, gradScale: Float) {
        if hi - lo == 1 {
            shardGradient(lo, step: step, pipeline: pipeline, shardSize: shardSize, gradScale: gradScale)
            return
        }
        let mid = lo + (hi - lo) / 2
        gradient(shards: lo, mid, depth: depth + 1, step: step, pipeline: pipeline, shardSize: shardSize, gradScale: gradScale)
        let g = gradients
        partial[depth].copy(from: g)
        gradient(shards: mid, hi, depth: depth + 1, step: step, pipeline: pipeline, shardSize: shardSize, gradScale: gradScale)
        reduce.start()
        accumulate(partial[depth].pointer, into: g.pointer, count: g.count)  // left + right (commutative: bitwise equal)
        reduce.stop()
    }
}

/// In-place tree sum of `buffers[lo..<hi]` over `range`, result in
/// `buffers[lo]`: `T(lo, hi) = T(lo, mid) + T(mid, hi)`, `mid = lo + (hi - lo) / 2`,
/// the canonical tree of `ShardPlan` (for shards, or for workers' subtrees).
package func treeReduce(_ buffers: UnsafePointer<UnsafeMutablePointer<Float>>, _ lo: Int, _ hi: Int, range: Range<Int>) {
    guard hi - lo > 1 else { return }
    let mid = lo + (hi - lo) / 2
    treeReduce(buffers, lo, mid, range: range)
    treeReduce(buffers, mid, hi, range: range)
    accumulate(buffers[mid] + range.lowerBound, into: buffers[lo] + range.lowerBound, count: range.count)
}
