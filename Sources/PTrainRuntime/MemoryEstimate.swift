import Foundation
import PTrain
import PTrainData

/// What one process of a training run allocates, in bytes, known from the
/// config before anything is allocated (what `DataParallelEngine` and its
/// `WorkerReplica`s build, P = parameters, 4 bytes a float):
/// - weights: P x replicas (1 in synchronous SGD, one per worker with
///   `runtime.sync.every > 1`), and as many copies of the evaluation's
///   prepared inference weights (`InferenceWeights`: W^T of each dense layer);
/// - gradients and momentum: G per worker (its gradient arena), plus G per
///   claimable block with `runtime.schedule: dynamic` (the tree's leaves) and
///   G per level of each worker's partial-sum tree, plus P x replicas of
///   momentum, plus 2 P for a second-order bilevel search. G = P, except in
///   synchronous SGD outside a bilevel search, where the dense layers'
///   weight gradients are summed over the batch straight into one summed
///   arena of P (`BatchWeightGradients`): G is the other tensors, plus the
///   dense layers' recorded inputs and output gradients and each worker's
///   partial-sum tiles;
/// - activations per worker: the training network at the shard size, the
///   evaluation network at `train.eval_batch` (`NetworkFootprint`), the
///   evaluation's class probabilities and the layer scratch both networks
///   share (the larger of their needs);
/// - data: both splits in memory and the batch pipeline's two batches (two
///   pipelines in a bilevel search), unless the workers fill their own
///   shards (`BatchPipeline.fillsInWorkers`: then the pipelines hold none).
/// The runtime itself (GEMM packing buffers, threads) is not counted; the
/// engine's arenas are allocated with
/// `FloatBuffer(count:purpose:)`, so a shortfall the estimate missed is still
/// an error, not a trap.
public struct MemoryEstimate: Sendable, Equatable {
    public let weights: Int
    public let gradientsAndMomentum: Int
    public let activationsPerWorker: Int
    public let workers: Int
    public let data: Int
    public var total: Int { weights + gradientsAndMomentum + workers * activationsPerWorker + data }

    public init(weights: Int, gradientsAndMomentum: Int, activationsPerWorker: Int, workers: Int, data: Int) {
        self.weights = weights; self.gradientsAndMomentum = gradientsAndMomentum
        self.activationsPerWorker = activationsPerWorker; self.workers = workers; self.data = data
    }

    /// The estimate of training `config` (whose model is `model`) with
    /// `workers` workers on a machine with `cpus` online CPUs.
    public init(config: RunConfig, model: Model, workers: Int, cpus: Int = ProcessInfo.processInfo.activeProcessorCount) {
        let arena = 4 * model.layout.totalCount
        let averaging = config.runtime.syncEvery > 1
        let replicas = averaging ? workers : 1
        let shard = max(config.runtime.shard, 1)
        let shards = max(config.train.batch / shard, 1)
        let tree: Int  // gradient-sized buffers of the shard tree
        let dynamic = !averaging && config.runtime.schedule == .dynamic
        let plan = ShardPlan(batch: config.train.batch, shardSize: shard, workers: max(workers, 1), dynamic: dynamic)
        if dynamic {
            // A leaf per claimable block, and each worker's partial sums within one block.
            var depth = 0
            while (1 << depth) < plan.blocks.map(\.count).max()! { depth += 1 }
            tree = plan.blocks.count + workers * depth
        } else {
            var depth = 0
            while (1 << depth) < shards / max(workers, 1) { depth += 1 }
            tree = workers * depth
        }
        // Synchronous SGD: compact per-shard arenas, the summed arena and the batch-wide dense gradients' buffers.
        let gradients: Int
        if !averaging && config.train.architecture == nil {
            let batchPlan = BatchWeightGradients.Plan(model: model)
            let leaves = dynamic ? plan.blocks : (0..<max(workers, 1)).map { w in (w * shards / max(workers, 1))..<((w + 1) * shards / max(workers, 1)) }
            gradients = 4 * batchPlan.compactCount * (workers + tree) + arena
                + 4 * (shards * shard * batchPlan.recordedFloatsPerSample + workers * batchPlan.scratchFloats(leaves: leaves))
        } else {
            gradients = arena * (workers + tree)
        }
        let classes = model.outputShape.count
        let evalBatch = config.train.evalBatch
        // The convolutions' algorithms, and so their scratch, depend on the precision.
        for case let layer as PrecisionSelectable in model.layers { layer.precision = config.runtime.precision }
        let training = NetworkFootprint(model: model, maxBatch: shard, training: true)
        let evaluation = NetworkFootprint(model: model, maxBatch: evalBatch, training: false)
        // A bilevel search's second order keeps the weights and a direction aside.
        let unrolled = config.train.architecture?.order == .second ? 2 * arena : 0
        // A bilevel search's architecture batches have their own pipeline buffers.
        let pipelines = BatchPipeline.fillsInWorkers(config.runtime.loader, workers: workers, cpus: cpus) ? 0
            : config.train.architecture == nil ? 1 : 2
        let prepared = 4 * InferenceWeights.floats(for: model)
        self.init(weights: (arena + prepared) * replicas,
                  gradientsAndMomentum: gradients + arena * replicas + unrolled,
                  activationsPerWorker: training.bytes + evaluation.bytes + 4 * evalBatch * classes
                      + max(training.scratchBytes, evaluation.scratchBytes),
                  workers: workers,
                  data: DataSources.residentBytes(config.data, model: config.model)
                      + pipelines * 2 * 4 * config.train.batch * (model.inputShape.count + 1))
    }

    /// `weights 1.6 GiB, gradients and momentum 3.2 GiB, activations 2 workers x 1.0 GiB, data 47.1 MiB`.
    public var parts: String {
        "weights \(Self.format(weights)), gradients and momentum \(Self.format(gradientsAndMomentum)), "
            + "activations \(workers) worker\(workers == 1 ? "" : "s") x \(Self.format(activationsPerWorker)), data \(Self.format(data))"
    }

    /// Throws, naming `file`, the total, its parts and the limit, when the
    /// run does not fit under `limit` (nil: no limit known).
    public func check(against limit: MemoryLimit?, file: String) throws {
        guard let limit, total > limit.bytes else { return }
        throw ConfigError("\(file): the run needs \(Self.format(total)) (\(parts)); the limit is \(Self.format(limit.bytes)) (\(limit.source))")
    }

    /// Bytes in binary units, one decimal: `512 B`, `3.0 KiB`, `47.1 MiB`, `3.8 GiB`.
    public static func format(_ bytes: Int) -> String {
        let units = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        guard let (size, name) = units.first(where: { bytes >= $0.0 }) else { return "\(bytes) B" }
        return String(format: "%.1f %@", Double(bytes) / Double(size), name)
    }
}
