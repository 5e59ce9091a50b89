import Foundation
import PTrain
import PTrainData
import PTrainKernels
import Synchronization

/// Runs training steps and evaluations of one model data-parallel over
/// persistent worker threads. Every minibatch is cut into fixed shards
/// (`ShardPlan`); each worker computes the gradient of its block of shards;
/// the gradients are reduce-scattered in shared memory in a fixed tree order;
/// each worker applies SGD to its slice of the one parameter arena
/// (synchronous SGD). With `runtime.sync.every: K > 1`, workers instead keep
/// their own replicas and optimizer state, and `average()` averages them.
///
/// Because the reduction order does not depend on the worker count,
/// synchronous runs give bitwise-identical weights for every power-of-two
/// worker count that divides the shard count.
///
/// Past one process (`group`, MPI ranks): rank r computes the shards
/// `[r S/R, (r+1) S/R)` of every global batch with its own workers, reduces
/// them in shared memory, then the ranks' sums are added in the same tree
/// (`ProcessGroup.treeSum`) and every rank applies the same update. R
/// processes of W workers give the bits of one process of R x W workers
/// when R and W are powers of two.
public final class DataParallelEngine {
    public let config: RunConfig
    public let train: SampleSet
    public let test: SampleSet
    public let model: Model
    /// The optimizer step over arena slices (built once: no allocation per step).
    private let optimizerStep: ParameterUpdate
    /// This process's part: its share of the global batch (`plan.batch` =
    /// batch / ranks), cut into shards for its workers.
    public let plan: ShardPlan
    /// The processes of the job (one, unless run under MPI).
    public let group: ProcessGroup
    /// The weights: replica 0's arena (the only one in synchronous mode).
    public var parameters: FloatBuffer { parameterArenas[0] }
    public var workers: Int { plan.workers }
    public var averaging: Bool { config.runtime.syncEvery > 1 }
    /// Shards claimed by whichever worker is free (balances a core shared with
    /// another process) rather than a fixed block per worker.
    public var dynamicSchedule: Bool { plan.dynamic }

    private let parameterArenas: [FloatBuffer]
    private let velocities: [FloatBuffer]
    private let replicas: [WorkerReplica]
    private let pool: WorkerPool
    /// Per-worker arena pointers, for the reductions (allocated once).
    private let gradientPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let parameterPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let velocityPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let state: StepState
    /// Prepares each step's batch ahead of the workers.
    private let pipeline: BatchPipeline
    /// Index (within the run) of a step whose summed gradient held a NaN or
    /// infinity, or -1; set by any worker that finds one in its slice.
    private let nonFiniteStep = Atomic<Int>(-1)
    /// Set (from any thread, e.g. a signal handler) to end the current run of
    /// steps after the step in progress.
    public let interrupt = InterruptFlag()
    /// Participation (dynamic schedule only): `rank[w]` is worker w's index
    /// among the active workers, or -1 while it sits out. Because the shards'
    /// tree does not depend on who computes them, a worker whose core is shared
    /// with another process can sit out without changing a single bit.
    private let rank: UnsafeMutablePointer<Int>
    private var activeCount: Int
    private var subRuns = 0
    /// Told when a worker starts or stops sitting out (from the coordinator thread).
    public var onNote: ((String) -> Void)?
    /// Steps per sub-run between participation decisions.
    static let subRunSteps = 25
    /// A worker that the others waited for more than this share of a sub-run sits out.
    static let stragglerWaitShare = 0.35
    /// Sitting-out workers are tried again every this many sub-runs.
    static let probeEvery = 16
    /// Dynamic schedule: one gradient buffer per shard (the tree's leaves),
    /// and the next unclaimed shard of the step.
    private let leaves: [FloatBuffer]
    private let leafPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let nextShard = Atomic<Int>(0)

    /// What the workers do on the next `pool.run()`, published by the
    /// coordinator before it releases them (the start barrier orders it).
    /// A run of training steps happens entirely among the workers (two
    /// barriers per step); the coordinator only wakes at its end.
    private final class StepState: @unchecked Sendable {
        enum Mode { case trainSteps, evaluate }
        var mode = Mode.trainSteps
        var order: [Int] = []
        var epoch = 0
        /// First step (within the epoch) and number of steps of the run.
        var first = 0, count = 0
        /// Evaluation views per sample (1: centre crop; 10: ten-crop).
        var views = 1
        /// `[stepsPerEpoch]`: learning rate and "average after" flag per step of the run.
        var rates: UnsafeMutablePointer<Float>
        var averageAfter: UnsafeMutablePointer<Bool>
        /// Steps completed; set by the first active worker.
        var completed = 0
        /// Steps whose update was skipped because the gradient was not finite.
        var skipped = 0
        /// Decided by the first active worker before the end-of-step barrier:
        /// the run ends after this step (an interrupt arrived).
        var stopHere = false
        init(capacity: Int) {
            rates = .allocate(capacity: capacity)
            averageAfter = .allocate(capacity: capacity)
        }
        deinit { rates.deallocate(); averageAfter.deallocate() }
    }

    /// Sums over workers since the last `resetCounters()`; times are those of
    /// the slowest worker in each phase (the one a step waits for), in seconds.
    public struct Counters: Sendable {
        public var loss = 0.0, correct = 0
        public var data = 0.0, compute = 0.0, reduce = 0.0, update = 0.0
        /// Adding the processes' sums (MPI), part of the step's reduction time.
        public var crossReduce = 0.0
    }

    /// `placement(w)` runs on worker w's own thread before anything else
    /// (pinning); its error stops the construction. `fillInWorkers`: whether
    /// the workers fill their own shards instead of the batch pipeline's
    /// thread (`BatchPipeline.inWorkers`; same data either way); nil: when
    /// every online CPU has a worker.
    public init(config: RunConfig, train: SampleSet, test: SampleSet, workers: Int,
                placement: @escaping @Sendable (Int) throws -> Void = { _ in },
                group: ProcessGroup = SingleProcess(), fillInWorkers: Bool? = nil) throws {
        self.config = config
        self.train = train
        self.test = test
        self.group = group
        let ranks = group.size
        let shards = config.train.batch / max(config.runtime.shard, 1)
        if ranks > 1 && (config.train.batch % config.runtime.shard != 0 || shards % ranks != 0) {
            throw RunError("runtime: \(ranks) processes cannot share the \(shards) shards of a global batch (batch \(config.train.batch) / shard \(config.runtime.shard)) evenly; use a process count that divides \(shards)")
        }
        plan = ShardPlan(batch: config.train.batch / ranks, shardSize: config.runtime.shard, workers: workers,
                         dynamic: config.runtime.syncEvery == 1 && config.runtime.schedule == "dynamic")
        if let problem = plan.problem { throw RunError("runtime: \(problem)") }
        let globalStatistics = config.runtime.batchNormStatistics == "global"
        if globalStatistics && ranks > 1 {
            throw RunError("runtime.batchnorm: global exchanges statistics in shared memory, between the workers of one process; it is not available across \(ranks) processes (use per_shard)")
        }
        if globalStatistics && (config.runtime.syncEvery > 1 || config.runtime.schedule != "static" || plan.shards != workers) {
            throw RunError("runtime.batchnorm: global exchanges statistics between the workers of each step, so it needs synchronous SGD "
                           + "(sync.every 1), schedule: static and one shard per worker (shard = batch / workers = "
                           + "\(config.train.batch / workers)); this run has sync.every \(config.runtime.syncEvery), schedule "
                           + "\(config.runtime.schedule) and \(plan.shards) shards for \(workers) workers")
        }
        model = try config.model.build(classes: train.classes)
        optimizerStep = ParameterUpdate(optimizer: config.train.optimizer, layout: model.layout)
        let count = model.layout.totalCount
        let averaging = config.runtime.syncEvery > 1
        // The arenas (the big allocations) fail as errors, not traps.
        parameterArenas = try (0..<(averaging ? workers : 1)).map { _ in try FloatBuffer(count: count, purpose: "the weights") }
        for arena in parameterArenas { model.layout.initialize(arena, seed: config.seed) }
        velocities = try (0..<(averaging ? workers : 1)).map { _ in try FloatBuffer(count: count, purpose: "the momentum") }
        var replicas: [WorkerReplica] = []
        for w in 0..<workers {
            // Worker 0 uses `model`'s layers; the others build their own (layers hold scratch).
            let m = w == 0 ? model : try config.model.build(classes: train.classes)
            let params = parameterArenas[averaging ? w : 0]
            let network = Network(model: m, maxBatch: config.runtime.shard, parameters: params,
                                  gradients: try FloatBuffer(count: count, purpose: "the gradients"), seed: config.seed)
            let evalNetwork = Network(model: try config.model.build(classes: train.classes), maxBatch: config.train.evalBatch,
                                      parameters: params, gradients: nil, seed: config.seed)
            replicas.append(try WorkerReplica(network: network, evalNetwork: evalNetwork, shardsPerWorker: plan.shards / workers,
                                          partials: !(config.runtime.schedule == "dynamic" && !averaging)))
        }
        let dynamic = !averaging && config.runtime.schedule == "dynamic"
        leaves = try dynamic ? (0..<plan.shards).map { _ in try FloatBuffer(count: count, purpose: "the gradient tree") } : []
        leafPointers = .allocate(capacity: max(leaves.count, 1))
        for (i, leaf) in leaves.enumerated() { leafPointers[i] = leaf.pointer }
        self.replicas = replicas
        gradientPointers = .allocate(capacity: workers)
        parameterPointers = .allocate(capacity: workers)
        velocityPointers = .allocate(capacity: workers)
        for w in 0..<workers {
            gradientPointers[w] = replicas[w].gradients.pointer
            parameterPointers[w] = parameterArenas[averaging ? w : 0].pointer
            velocityPointers[w] = velocities[averaging ? w : 0].pointer
        }
        state = StepState(capacity: max(train.count / config.train.batch, 1))
        rank = .allocate(capacity: workers)
        for w in 0..<workers { rank[w] = w }
        activeCount = workers
        // The pool may fail (pinning) and cleans up after itself; the pipeline
        // thread starts only once nothing else can fail.
        pool = try WorkerPool(count: workers, setUp: placement)
        if globalStatistics {
            let channels = replicas[0].network.model.layers.compactMap { ($0 as? BatchNorm)?.inputShape.channels }.max() ?? 0
            let exchange = StatisticsExchange(workers: workers, capacity: 2 * channels + 1, barrier: pool.barrier)
            for (w, r) in replicas.enumerated() {
                r.network.context.statistics = exchange
                r.network.context.worker = w
            }
        }
        let inWorkers = fillInWorkers ?? (workers >= ProcessInfo.processInfo.activeProcessorCount)
        pipeline = BatchPipeline(set: train, batch: config.train.batch, part: plan.batch * group.rank ..< plan.batch * (group.rank + 1),
                                 seed: config.seed, inWorkers: inWorkers)
        pool.setJob { [unowned self] w in self.work(w) }
    }

    deinit {
        pool.shutdown()
        pipeline.shutdown()
        gradientPointers.deallocate(); parameterPointers.deallocate(); velocityPointers.deallocate()
        leafPointers.deallocate()
        rank.deallocate()
    }

    // MARK: coordinator side

    /// Starts an epoch: its sample order, and fresh counters.
    public func beginEpoch(_ epoch: Int) {
        state.order = epochPermutation(count: train.count, seed: config.seed, epoch: epoch)
        state.epoch = epoch
        pipeline.setOrder(state.order, epoch: epoch)
        resetCounters()
    }

    /// Optimizer steps per epoch (the last partial batch is dropped).
    public var stepsPerEpoch: Int { train.count / config.train.batch }

    /// Runs `count` consecutive steps of the current epoch from step `first`
    /// (samples `order[first * batch ...]`), step `k` with learning rate
    /// `learningRate(k)`; in averaging mode, replicas are averaged after every
    /// step `k` with `averageAfter(k)`. Before every update the summed gradient
    /// is checked: a NaN or infinity skips the update (`train.on_nan: skip`) or
    /// ends the run before applying it (`stop`). An interrupt ends the run
    /// after the step in progress.
    public func steps(first: Int, count: Int, learningRate: (Int) -> Double,
                      averageAfter: (Int) -> Bool = { _ in false }) -> StepsOutcome {
        precondition(first >= 0 && count >= 0 && first + count <= stepsPerEpoch)
        var outcome = StepsOutcome()
        while outcome.completed < count {
            let done = outcome.completed
            let n = min(Self.subRunSteps, count - done)
            if dynamicSchedule && workers > 1 { chooseParticipants() }
            for k in 0..<n {
                state.rates[k] = Float(learningRate(first + done + k))
                state.averageAfter[k] = averageAfter(first + done + k)
            }
            state.mode = .trainSteps
            state.first = first + done
            state.count = n
            state.completed = 0
            state.skipped = 0
            state.stopHere = false
            nextShard.store(0, ordering: .relaxed)
            nonFiniteStep.store(-1, ordering: .relaxed)
            replicas.forEach { $0.waiting.reset() }
            let t0 = monotonicSeconds()
            pipeline.begin(first: first + done, count: n)
            pool.run()
            pipeline.finish()
            if dynamicSchedule && workers > 1 { judgeParticipants(seconds: monotonicSeconds() - t0) }
            outcome.completed += state.completed
            outcome.skipped += state.skipped
            if nonFiniteStep.load(ordering: .relaxed) >= 0 && !skipNonFinite {
                outcome.nonFiniteGradient = true
                break
            }
            if state.stopHere {
                outcome.interrupted = true
                break
            }
        }
        interrupt.clear()
        return outcome
    }

    /// `train.on_nan: skip`.
    private var skipNonFinite: Bool { config.train.onNaN == "skip" }

    /// The momentum buffers (replica 0's), same layout as the parameters.
    public var momentum: FloatBuffer { velocities[0] }

    /// The last step's summed gradient (for diagnostics after a non-finite step).
    public var lastGradient: UnsafePointer<Float> {
        UnsafePointer(dynamicSchedule ? leafPointers[0] : gradientPointers[0])
    }

    /// Copies `parameters` and `momentum` into every replica (resume).
    public func restore(parameters: FloatBuffer, momentum: FloatBuffer) {
        for arena in parameterArenas { arena.copy(from: parameters) }
        for v in velocities { v.copy(from: momentum) }
    }

    /// Steps for throughput measurements (`bench`, `scale`): `count` steps at
    /// a tiny fixed learning rate, cycling through the current epoch's steps
    /// from `position`, which advances.
    public func measurementSteps(_ count: Int, position: inout Int) throws {
        let perEpoch = stepsPerEpoch
        guard perEpoch > 0 else {
            throw RunError("train.batch \(config.train.batch) is larger than the \(train.count) training samples")
        }
        var left = count
        while left > 0 {
            let first = position % perEpoch
            let chunk = min(left, perEpoch - first)
            _ = steps(first: first, count: chunk, learningRate: { _ in 1e-4 })
            position += chunk
            left -= chunk
        }
    }

    /// Sets which workers take part (tests; the engine also decides by itself).
    package func setParticipation(_ active: [Bool]) {
        precondition(dynamicSchedule && active.count == workers && active.contains(true))
        activeCount = 0
        for w in 0..<workers { rank[w] = active[w] ? activeCount : -1; if active[w] { activeCount += 1 } }
    }

    /// Before a sub-run: every `probeEvery` sub-runs, sitting-out workers are
    /// tried again; the barrier and the ranks follow the active set.
    private func chooseParticipants() {
        subRuns += 1
        if activeCount < workers && subRuns % Self.probeEvery == 0 {
            for w in 0..<workers { rank[w] = w }
            activeCount = workers
            onNote?("all \(workers) workers take part again (probe)")
        }
        pool.barrier.setParties(activeCount)
    }

    /// After a sub-run: if the other workers spent more than
    /// `stragglerWaitShare` of it waiting, the worker they waited for (the one
    /// that waited least) sits out.
    private func judgeParticipants(seconds: Double) {
        guard activeCount > 1, seconds > 0 else { return }
        var most = 0.0, least = Double.infinity, straggler = -1
        for w in 0..<workers where rank[w] >= 0 {
            let share = replicas[w].waiting.total / seconds
            most = max(most, share)
            if share < least { least = share; straggler = w }
        }
        guard most > Self.stragglerWaitShare, straggler >= 0 else { return }
        rank[straggler] = -1
        activeCount = 0
        for w in 0..<workers where rank[w] >= 0 { rank[w] = activeCount; activeCount += 1 }
        onNote?(String(format: "worker %d sits out: the others waited %.0f%% of the time for it (is its core busy?); results are unchanged", straggler, 100 * most))
    }

    /// Test-set loss, top-1 and top-5 with the current weights, on all
    /// workers; `tenCrop` averages the ten views' probabilities (softmax models).
    public func evaluateTest(epoch: Int, tenCrop: Bool = false) -> EvalResult {
        state.mode = .evaluate
        state.epoch = epoch
        state.views = tenCrop && model.loss == .softmaxCrossEntropy ? SampleSet.tenCropViews : 1
        pool.run()
        var totals = [0.0, 0.0, 0.0]  // loss, correct, correct top-5 (counts are exact in a Double)
        for r in replicas { totals[0] += r.lossSum; totals[1] += Double(r.correct); totals[2] += Double(r.correct5) }
        group.sum(&totals, count: 3)
        let loss = totals[0], correct = Int(totals[1]), correct5 = Int(totals[2])
        let n = Double(max(test.count, 1))
        return EvalResult(loss: loss / n, top1: Double(correct) / n, count: test.count,
                          top5: model.loss == .softmaxCrossEntropy ? Double(correct5) / n : .nan)
    }

    public func resetCounters() { replicas.forEach { $0.resetCounters() } }

    /// The counters of every worker of every process: loss and correct
    /// predictions summed, times those of this process's slowest worker.
    /// Collective when there are several processes (all ranks call it at the
    /// same point).
    public func gatherCounters() -> Counters {
        var c = Counters()
        for r in replicas {
            c.loss += r.lossSum; c.correct += r.correct
            c.data = max(c.data, r.data.total); c.compute = max(c.compute, r.compute.total)
            c.reduce = max(c.reduce, r.reduce.total); c.update = max(c.update, r.update.total)
            c.crossReduce = max(c.crossReduce, r.crossReduce.total)
        }
        if group.size > 1 {
            var totals = [c.loss, Double(c.correct)]
            group.sum(&totals, count: 2)
            c.loss = totals[0]; c.correct = Int(totals[1])
        }
        return c
    }

    // MARK: worker side

    private func work(_ w: Int) {
        switch state.mode {
        case .trainSteps: trainSteps(w)
        case .evaluate: evaluate(w)
        }
    }

    /// The worker side of `steps(first:count:...)`: every worker runs the
    /// same loop; barriers keep the steps in lockstep.
    private func trainSteps(_ w: Int) {
        guard rank[w] >= 0 else { return }  // sitting out this sub-run
        let count = model.layout.totalCount
        let slice = dynamicSchedule ? ShardPlan.slice(of: rank[w], workers: activeCount, count: count)
                                    : ShardPlan.slice(of: w, workers: workers, count: count)
        var done = 0, skipped = 0
        for k in 0..<state.count {
            let applied = trainStep(w, step: k, ticket: k * plan.shards,
                                    learningRate: state.rates[k], slice: slice)
            if averaging && state.averageAfter[k] {
                pool.barrier.wait()
                average(w)
            }
            // The first active worker decides, before the barrier, whether the
            // run ends here; everyone reads the same decision after it.
            if group.size > 1 {
                pool.barrier.wait()  // this process's non-finite checks are done
                if rank[w] == 0 { agree(step: k) }
            } else if rank[w] == 0 && interrupt.isRequested {
                state.stopHere = true
            }
            replicas[w].waiting.start()
            pool.barrier.wait()  // the step's updates are complete and visible; flags agree
            replicas[w].waiting.stop()
            if rank[w] == 0 { pipeline.release(k) }  // every worker is done with step k's batch
            if nonFiniteStep.load(ordering: .relaxed) == k {
                if !skipNonFinite { break }
                skipped += 1
            }
            if !applied && !skipNonFinite { break }
            done = k + 1
            if state.stopHere { break }
        }
        if rank[w] == 0 { state.completed = done; state.skipped = skipped }  // the first active worker reports
    }

    /// Multi-process runs, once per step by one thread of each process: the
    /// ranks agree whether the run ends after this step (a signal reached any
    /// rank) and whether its gradient was non-finite on any rank (parameter
    /// averaging checks each replica alone), so every rank leaves the run of
    /// steps at the same step.
    private func agree(step k: Int) {
        let local: Int32 = (interrupt.isRequested ? 1 : 0) | (nonFiniteStep.load(ordering: .relaxed) == k ? 2 : 0)
        let flags = group.any(local)
        if flags & 1 != 0 { state.stopHere = true }
        if flags & 2 != 0 { nonFiniteStep.store(k, ordering: .relaxed) }
    }

    /// One step: this worker's shards, then (synchronous SGD) its slice of
    /// the reduction, the finiteness check and the update. `ticket` numbers the
    /// step's first shard in the run, for the dynamic schedule. Returns whether
    /// the update was applied (false: the gradient was not finite).
    private func trainStep(_ w: Int, step k: Int, ticket: Int, learningRate: Float, slice: Range<Int>) -> Bool {
        let r = replicas[w]
        // Synchronous SGD: each shard's loss is scaled by 1/B so the tree sum
        // is the mean gradient of the global batch. Averaging: the mean over
        // this worker's own B/(R W) samples.
        let scale = 1 / Float(averaging ? plan.batch / workers : config.train.batch)
        r.network.context.epoch = state.epoch
        let count = model.layout.totalCount
        if dynamicSchedule {
            // Claim this step's shards (tickets ticket ..< ticket + S) until none is left.
            while true {
                var t = nextShard.load(ordering: .relaxed)
                while t < ticket + plan.shards {
                    let (exchanged, original) = nextShard.compareExchange(expected: t, desired: t + 1, ordering: .relaxed)
                    if exchanged { break }
                    t = original
                }
                guard t < ticket + plan.shards else { break }
                let s = t - ticket
                r.shardGradient(s, step: k, pipeline: pipeline, shardSize: plan.shardSize, gradScale: scale)
                leafPointers[s].update(from: r.gradients.pointer, count: count)
            }
        } else {
            let shards = plan.shards(of: w)
            r.gradient(shards: shards.lowerBound, shards.upperBound, step: k, pipeline: pipeline,
                       shardSize: plan.shardSize, gradScale: scale)
        }
        if averaging {
            // Each replica guards its own update.
            guard sum(gradientPointers[w], count: count).isFinite else {
                nonFiniteStep.store(k, ordering: .relaxed)
                return false
            }
            r.update.start()
            optimizerStep.apply(parameters: parameterPointers[w], gradients: gradientPointers[w], velocity: velocityPointers[w],
                         range: 0..<count, learningRate: learningRate)
            r.update.stop()
            return true
        }
        r.waiting.start()
        pool.barrier.wait()  // every shard's (or worker's) gradient is complete
        r.waiting.stop()
        let sums = dynamicSchedule ? leafPointers : gradientPointers
        r.reduce.start()
        treeReduce(sums, 0, dynamicSchedule ? plan.shards : workers, range: slice)
        r.reduce.stop()
        if group.size > 1 {
            // This process's sum is complete; one thread adds the ranks' sums.
            pool.barrier.wait()
            if rank[w] == 0 {
                r.crossReduce.start()
                group.treeSum(sums[0], count: count)
                r.crossReduce.stop()
            }
            pool.barrier.wait()
        }
        if !sum(sums[0] + slice.lowerBound, count: slice.count).isFinite { nonFiniteStep.store(k, ordering: .relaxed) }
        pool.barrier.wait()  // every slice is checked: all workers agree whether to update
        guard nonFiniteStep.load(ordering: .relaxed) != k else { return false }
        r.update.start()
        optimizerStep.apply(parameters: parameterPointers[0], gradients: sums[0], velocity: velocityPointers[0],
                     range: slice, learningRate: learningRate)
        r.update.stop()
        return true
    }

    /// Replicas averaged slice by slice in the fixed tree order (across
    /// processes too: the ranks' sums in the same tree), then the mean copied
    /// back into every replica. (Callers separate this from the steps around
    /// it with barriers.)
    private func average(_ w: Int) {
        let r = replicas[w]
        let count = model.layout.totalCount
        let slice = ShardPlan.slice(of: w, workers: workers, count: count)
        r.reduce.start()
        func averageSlice(_ pointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>) {
            treeReduce(pointers, 0, workers, range: slice)
            if group.size > 1 {
                pool.barrier.wait()
                if w == 0 {
                    r.crossReduce.start()
                    group.treeSum(pointers[0], count: count)
                    r.crossReduce.stop()
                }
                pool.barrier.wait()
            }
            scale(pointers[0] + slice.lowerBound, by: 1 / Float(workers * group.size), count: slice.count)
            for v in 1..<workers {
                (pointers[v] + slice.lowerBound).update(from: pointers[0] + slice.lowerBound, count: slice.count)
            }
        }
        averageSlice(parameterPointers)
        if config.runtime.averageMomentum { averageSlice(velocityPointers) }
        r.reduce.stop()
    }

    /// Worker w evaluates its contiguous share of the test set. With softmax
    /// cross-entropy, class probabilities are averaged over the views (one,
    /// or ten for ten-crop) before scoring.
    private func evaluate(_ w: Int) {
        let r = replicas[w]
        // Global worker index: rank-major, so ranks x workers split the test set like one process.
        let g = group.rank * workers + w, all = group.size * workers
        let lo = test.count * g / all, hi = test.count * (g + 1) / all
        r.lossSum = 0; r.correct = 0; r.correct5 = 0
        let net = r.evalNetwork
        net.context.epoch = state.epoch
        let softmax = model.loss == .softmaxCrossEntropy
        let views = state.views
        let k = model.outputShape.count
        var start = lo
        while start < hi {
            let n = min(net.maxBatch, hi - start)
            for i in 0..<n { net.context.sampleIndices[i] = start + i }
            guard softmax else {
                test.fill(start..<(start + n), input: net.input.pointer, labels: net.labels.pointer)
                net.forward(batch: n, training: false)
                r.lossSum += Double(net.loss(batch: n, gradScale: nil, correct: &r.correct))
                start += n
                continue
            }
            let probs = r.probabilities.pointer
            probs.update(repeating: 0, count: n * k)
            for view in 0..<views {
                test.fill(start..<(start + n), input: net.input.pointer, labels: net.labels.pointer, view: view)
                net.forward(batch: n, training: false)
                addSoftmax(net.output, rows: n, classes: k, scale: 1 / Float(views), into: probs)
            }
            score(probs, labels: net.labels.pointer, rows: n, classes: k, loss: &r.lossSum, correct: &r.correct, correct5: &r.correct5)
            start += n
        }
    }
}
