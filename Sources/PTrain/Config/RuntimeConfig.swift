import PTrainKernels
import Yams

/// `runtime:` — workers, pinning, sharding and synchronisation.
public struct RuntimeConfig: Sendable {
    /// Thread pinning (`runtime.bind`).
    public enum Binding: String, ConfigOption {
        /// Each worker on its own core (failure is an error).
        case core
        /// Workers are not pinned.
        case none
    }

    /// How shards go to workers (`runtime.schedule`).
    public enum ShardSchedule: String, ConfigOption {
        /// To whichever worker is free (one gradient buffer per shard).
        case dynamic
        /// Worker w always takes the same block of shards (less memory).
        case `static`
    }

    /// Whose batch statistics batch norm uses (`runtime.batchnorm`).
    public enum BatchNormStatistics: String, ConfigOption {
        /// Each shard's own: identical results for any worker count.
        case shard
        /// The whole global batch, exchanged between workers.
        case global
    }

    /// What parameter averaging does with momentum buffers (`runtime.sync.momentum`).
    public enum MomentumSync: String, ConfigOption {
        /// Averaged with the parameters.
        case average
        /// Each worker keeps its own.
        case local
    }

    /// Who prepares the training samples (`runtime.loader`).
    public enum Loader: String, ConfigOption {
        /// `workers` when every online CPU has a worker, else `thread`.
        case auto
        /// Each worker reads, decodes and transforms the samples of its own
        /// shards, inside the step.
        case workers
        /// One thread prepares the next step's batch while the workers
        /// compute this one (double-buffered).
        case thread
    }

    /// Worker threads; nil = one per physical core the process may use, at most floor(CPU quota) (`CPUQuota`).
    public var workers: Int?
    /// `core`: pin each worker to its own core (failure is an error); `none`: don't pin.
    public var bind: Binding
    /// Samples per shard; the global batch is cut into batch/shard shards.
    public var shard: Int
    /// 1: synchronous SGD (gradient reduction every step). K > 1: parameter
    /// averaging every K local steps.
    public var syncEvery: Int
    /// Whether parameter averaging also averages the momentum buffers.
    public var momentum: MomentumSync
    /// `dynamic`: shards go to whichever worker is free (one gradient buffer
    /// per shard; balances a core shared with another process). `static`:
    /// worker w always takes the same block of shards (less memory). Both sum
    /// in the same tree, so they give the same bits.
    public var schedule: ShardSchedule
    /// Batch norm statistics: `shard` (each shard's own: identical results for
    /// any worker count) or `global` (the whole global batch, exchanged between
    /// workers at every batch-norm layer; needs one shard per worker).
    public var batchNormStatistics: BatchNormStatistics = .shard
    /// Who prepares the training samples: the workers, a pipeline thread, or `auto`.
    public var loader: Loader = .auto
    /// The GEMM operands' format (`runtime.precision`): fp32, or bf16 with
    /// fp32 accumulation, weights and optimizer state (needs AVX512_BF16;
    /// `PrecisionCheck` in PTrainRuntime refuses it elsewhere).
    public var precision: ComputePrecision = .fp32

    /// Decodes the `runtime:` section; `batch` (the global batch, `train.batch`)
    /// is the default shard and must be a multiple of it.
    public static func decode(_ r: ConfigMapping, batch: Int) throws -> RuntimeConfig {
        var workers: Int? = nil
        if let w = r.optional("workers") {
            if (try? w.string()) == "auto" { r.record("workers", Node("auto")) } else {
                guard let n = try? w.int(1...4096) else { throw w.mismatch("an integer in [1, 4096] or auto") }
                workers = n
                r.record("workers", Node(String(n)))
            }
        } else {
            r.record("workers", Node("auto"))
        }
        let bind: Binding = try r.option("bind", default: .core)
        let schedule: ShardSchedule = try r.option("schedule", default: .dynamic)
        let shardValue = r.optional("shard")
        let shard = try r.int("shard", default: batch, 1...)
        if batch % shard != 0 {
            throw (shardValue ?? r.value).error("the global batch \(batch) must be a multiple of the shard size \(shard)")
        }
        let batchNormStatistics: BatchNormStatistics = try r.option("batchnorm", default: .shard)
        let loader: Loader = try r.option("loader", default: .auto)
        let precision: ComputePrecision = try r.option("precision", default: .fp32)
        let sync = try r.mapping("sync")
        let syncEvery = try sync.int("every", default: 1, 1...1_000_000)
        let momentum: MomentumSync = try sync.option("momentum", default: .average)
        try sync.finish()
        try r.finish()
        return RuntimeConfig(workers: workers, bind: bind, shard: shard, syncEvery: syncEvery, momentum: momentum,
                             schedule: schedule, batchNormStatistics: batchNormStatistics, loader: loader, precision: precision)
    }
}

extension ComputePrecision: ConfigOption {}
