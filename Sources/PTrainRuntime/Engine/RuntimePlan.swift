import PTrain

extension DataParallelEngine {
    /// The shard plan of one process of `ranks` for `config` on `workers`
    /// workers, or the reason the runtime settings cannot work together
    /// (processes that cannot share the shards, a plan the workers cannot
    /// divide, global batch-norm statistics outside the one mode that can
    /// exchange them).
    static func plan(config: RunConfig, workers: Int, processes ranks: Int) throws -> ShardPlan {
        let shards = config.train.batch / max(config.runtime.shard, 1)
        if ranks > 1 && (config.train.batch % config.runtime.shard != 0 || shards % ranks != 0) {
            throw RunError("runtime: \(ranks) processes cannot share the \(shards) shards of a global batch (batch \(config.train.batch) / shard \(config.runtime.shard)) evenly; use a process count that divides \(shards)")
        }
        let plan = ShardPlan(batch: config.train.batch / ranks, shardSize: config.runtime.shard, workers: workers,
                             dynamic: config.runtime.syncEvery == 1 && config.runtime.schedule == .dynamic)
        if let problem = plan.problem { throw RunError("runtime: \(problem)") }
        let globalStatistics = config.runtime.batchNormStatistics == .global
        if globalStatistics && ranks > 1 {
            throw RunError("runtime.batchnorm: global exchanges statistics in shared memory, between the workers of one process; it is not available across \(ranks) processes (use runtime.batchnorm: shard)")
        }
        if globalStatistics && (config.runtime.syncEvery > 1 || config.runtime.schedule != .static || plan.shards != workers) {
            throw RunError("runtime.batchnorm: global exchanges statistics between the workers of each step, so it needs synchronous SGD "
                           + "(sync.every 1), schedule: static and one shard per worker (shard = batch / workers = "
                           + "\(config.train.batch / workers)); this run has sync.every \(config.runtime.syncEvery), schedule "
                           + "\(config.runtime.schedule) and \(plan.shards) shards for \(workers) workers")
        }
        return plan
    }
}
