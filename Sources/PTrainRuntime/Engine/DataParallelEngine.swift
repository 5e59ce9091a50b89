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
    /// Held out for the run's choices (`data.validation`), if any.
    public let validation: SampleSet?
    /// The split the workers evaluate (set by `evaluate` before they run).
    var evaluationSet: SampleSet
    public let model: Model
    /// The optimizer step over arena slices (built once: no allocation per step).
    let optimizerStep: ParameterUpdate
    /// This process's part: its share of the global batch (`plan.batch` =
    /// batch / ranks), cut into shards for its workers.
    public let plan: ShardPlan
    /// The processes of the job (one, unless run under MPI).
    public let group: ProcessGroup
    /// The weights: replica 0's arena (the only one in synchronous mode).
    public var parameters: FloatBuffer { parameterArenas[0] }
    /// Each worker's evaluation network (inference-only, over its arena).
    public var evaluationNetworks: [Network] { replicas.map(\.evalNetwork) }
    public var workers: Int { plan.workers }
    public var averaging: Bool { config.runtime.syncEvery > 1 }
    /// Shards claimed by whichever worker is free (balances a core shared with
    /// another process) rather than a fixed block per worker.
    public var dynamicSchedule: Bool { plan.dynamic }

    /// One parameter arena and one optimizer state arena (SGD's momentum or
    /// Adam's moments: `ParameterUpdate`) per replica: one in synchronous
    /// SGD, one per worker with parameter averaging (`snapshot()` /
    /// `restore(_:)` read and write them).
    let parameterArenas: [FloatBuffer]
    let optimizerStates: [FloatBuffer]
    /// `[replicas]`: the updates each replica's optimizer state has applied
    /// (Adam's bias correction counts them). Read by the workers at the start
    /// of a run of steps and written back at its end.
    let optimizerSteps: UnsafeMutablePointer<Int>
    /// `train.clip_grad_norm`, and the per-block sums of squares it adds up
    /// (`[workers][blocks]`: one row per replica under parameter averaging).
    let clipping: GradientClipping?
    let normSums: UnsafeMutablePointer<Double>
    /// Each worker's barrier waiting time (seconds) at the start of the current
    /// sub-run, so the straggler check sees that sub-run's waits alone.
    private var waitedBefore: [Double]
    /// Whether every replica of every process holds the same parameters and
    /// momentum (always in synchronous SGD; with parameter averaging, right
    /// after an averaging point that averages momentum too).
    var replicasAgree = true
    let replicas: [WorkerReplica]
    let pool: WorkerPool
    /// Per-worker arena pointers, for the reductions (allocated once).
    let gradientPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let parameterPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let statePointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let state: StepState
    /// Prepares each step's batch ahead of the workers.
    let pipeline: BatchPipeline
    /// Index (within the run) of a step whose summed gradient held a NaN or
    /// infinity, or -1; set by any worker that finds one in its slice.
    let nonFiniteStep = Atomic<Int>(-1)
    /// Set (from any thread, e.g. a signal handler) to end the current run of
    /// steps after the step in progress.
    public let interrupt = InterruptFlag()
    /// Which workers take part (the dynamic schedule benches stragglers).
    let participation: Participation
    /// Told when a worker starts or stops sitting out (from the coordinator thread).
    public var onNote: ((ParticipationChange) -> Void)?
    /// Steps per sub-run between participation decisions.
    static let subRunSteps = 25
    /// Dynamic schedule: the claimable blocks of shards (`ShardPlan.blocks`),
    /// one gradient buffer per block (the tree's leaves), and the next
    /// unclaimed block of the run.
    let blocks: [Range<Int>]
    let leaves: [FloatBuffer]
    let leafPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let nextShard = Atomic<Int>(0)
    /// Synchronous SGD: the step's summed gradient (full layout), and the
    /// dense layers whose weight gradients are computed into it over the
    /// whole batch (`BatchWeightGradients`; the per-shard arenas, leaves and
    /// partial sums then hold only the other tensors). Nil with parameter
    /// averaging and in a bilevel search, whose gradients stay whole per worker.
    let summed: FloatBuffer?
    let batchGradients: BatchWeightGradients?
    /// A bilevel search's architecture side (`train.architecture`), and its
    /// passes' next unclaimed shard (dynamic schedule).
    let architecture: ArchitectureSearch?
    let nextArchitectureShard = Atomic<Int>(0)

    /// `placement(w)` runs on worker w's own thread before anything else
    /// (pinning); its error stops the construction. `fillInWorkers`: whether
    /// the workers fill their own shards instead of the batch pipeline's
    /// thread (`BatchPipeline.inWorkers`; same data either way); nil: when
    /// every online CPU has a worker. `architecture`: the architecture half
    /// of the training split, which `train.architecture` needs.
    public convenience init(config: RunConfig, train: SampleSet, test: SampleSet, validation: SampleSet? = nil,
                architecture architectureSet: SampleSet? = nil, workers: Int,
                placement: @escaping @Sendable (Int) throws -> Void = { _ in },
                group: ProcessGroup = SingleProcess(), fillInWorkers: Bool? = nil) throws {
        try self.init(config: config, train: train, test: test, validation: validation, architecture: architectureSet,
                      workers: workers, placement: placement, group: group, fillInWorkers: fillInWorkers,
                      batchWeightGradients: true)
    }

    /// `batchWeightGradients: false` sums every tensor through the shard
    /// tree (tests compare the two ways bit for bit).
    package init(config: RunConfig, train: SampleSet, test: SampleSet, validation: SampleSet? = nil,
                 architecture architectureSet: SampleSet? = nil, workers: Int,
                 placement: @escaping @Sendable (Int) throws -> Void = { _ in },
                 group: ProcessGroup = SingleProcess(), fillInWorkers: Bool? = nil, batchWeightGradients: Bool) throws {
        self.config = config
        self.train = train
        self.test = test
        self.validation = validation
        evaluationSet = test
        self.group = group
        try PrecisionCheck.check(config.runtime.precision)
        plan = try Self.plan(config: config, workers: workers, processes: group.size)
        if config.train.architecture != nil {
            guard architectureSet != nil else {
                throw RunError("train.architecture: the engine was given no architecture split (DataSources.load(config) cuts it)")
            }
            guard group.size == 1 else { throw RunError("train.architecture: a bilevel search runs in one process (this job has \(group.size))") }
        }
        let globalStatistics = config.runtime.batchNormStatistics == .global
        model = try config.model.build(classes: train.classes)
        let update = ParameterUpdate(optimizer: config.train.optimizer, layout: model.layout,
                                     frozenLayers: config.train.frozenLayers(of: model))
        optimizerStep = update
        clipping = config.train.clipGradNorm.map { GradientClipping(maxNorm: $0, ranges: update.trainableRanges) }
        let count = model.layout.totalCount
        let averaging = config.runtime.syncEvery > 1
        // The arenas (the big allocations) fail as errors, not traps.
        parameterArenas = try (0..<(averaging ? workers : 1)).map { _ in try FloatBuffer(count: count, purpose: "the weights") }
        let stateCount = update.stateCount
        optimizerStates = try (0..<(averaging ? workers : 1)).map { _ in try FloatBuffer(count: stateCount, purpose: "the optimizer state") }
        optimizerSteps = .allocate(capacity: optimizerStates.count)
        optimizerSteps.initialize(repeating: 0, count: optimizerStates.count)
        waitedBefore = [Double](repeating: 0, count: workers)
        normSums = .allocate(capacity: max(workers * (clipping?.blocks.count ?? 0), 1))
        normSums.initialize(repeating: 0, count: max(workers * (clipping?.blocks.count ?? 0), 1))
        var replicas: [WorkerReplica] = []
        let dynamic = !averaging && config.runtime.schedule == .dynamic
        // The largest subtree one worker sums at once (its partial sums' depth).
        let blockSize = dynamic ? plan.blocks.map(\.count).max()! : plan.shards / workers
        if !averaging && config.train.architecture == nil && batchWeightGradients {
            let total = try FloatBuffer(count: count, purpose: "the summed gradient")
            // The engine's tree: the dynamic schedule's blocks, or each worker's block.
            let shardPlan = plan
            let leaves = dynamic ? shardPlan.blocks : (0..<workers).map { shardPlan.shards(of: $0) }
            summed = total
            batchGradients = try BatchWeightGradients(model: model, shards: shardPlan.shards, shardSize: shardPlan.shardSize,
                                                      leaves: leaves, target: total)
        } else {
            summed = nil
            batchGradients = nil
        }
        let gradientCount = batchGradients?.compactCount ?? count
        // One store of prepared inference weights per parameter arena, shared
        // by the evaluation networks reading it (`InferenceWeights`).
        var inferenceStores: [Int: InferenceWeights] = [:]
        for w in 0..<workers {
            // Worker 0 uses `model`'s layers; the others build their own (layers hold scratch).
            let m = w == 0 ? model : try config.model.build(classes: train.classes)
            let arena = averaging ? w : 0
            let params = parameterArenas[arena]
            let network = Network(model: m, maxBatch: config.runtime.shard, parameters: params,
                                  gradients: try FloatBuffer(count: gradientCount, purpose: "the gradients"), seed: config.seed,
                                  precision: config.runtime.precision, batchGradients: batchGradients)
            network.labelSmoothing = Float(config.train.labelSmoothing)
            // Evaluation and training never run at once on a worker: one layer scratch.
            let evalModel = try config.model.build(classes: train.classes)
            if inferenceStores[arena] == nil {
                inferenceStores[arena] = InferenceWeights(model: evalModel, parameters: params)
            }
            let evalNetwork = Network(model: evalModel, maxBatch: config.train.evalBatch,
                                      parameters: params, gradients: nil, seed: config.seed, scratch: network.context.scratch,
                                      precision: config.runtime.precision, inferenceWeights: inferenceStores[arena])
            replicas.append(try WorkerReplica(network: network, evalNetwork: evalNetwork, shardsPerWorker: blockSize,
                                              batchScratch: batchGradients?.scratchFloats ?? 0))
        }
        blocks = dynamic ? plan.blocks : []
        leaves = try blocks.map { _ in try FloatBuffer(count: gradientCount, purpose: "the gradient tree") }
        leafPointers = .allocate(capacity: max(leaves.count, 1))
        for (i, leaf) in leaves.enumerated() { leafPointers[i] = leaf.pointer }
        self.replicas = replicas
        gradientPointers = .allocate(capacity: workers)
        parameterPointers = .allocate(capacity: workers)
        statePointers = .allocate(capacity: workers)
        for w in 0..<workers {
            gradientPointers[w] = replicas[w].gradients.pointer
            parameterPointers[w] = parameterArenas[averaging ? w : 0].pointer
            statePointers[w] = optimizerStates[averaging ? w : 0].pointer
        }
        state = StepState(capacity: max(train.count / config.train.batch, 1))
        participation = Participation(workers: workers)
        // The pool may fail (pinning) and cleans up after itself; the pipeline
        // thread starts only once nothing else can fail.
        // Each worker pins itself, then first-touches its own memory (NUMA
        // placement, `FirstTouch`); the weights are written after that.
        let touch = FirstTouch(gradients: replicas.map { [$0.gradients, $0.batchScratch] + $0.partial }, leaves: leaves,
                               parameters: parameterArenas, states: optimizerStates, summed: summed)
        pool = try WorkerPool(count: workers, setUp: { w in try placement(w); touch.run(w) })
        for arena in parameterArenas { model.layout.initialize(arena, seed: config.seed) }
        if globalStatistics {
            let channels = replicas[0].network.model.layers.compactMap { ($0 as? BatchNorm)?.inputShape.channels }.max() ?? 0
            let exchange = StatisticsExchange(workers: workers, capacity: 2 * channels + 1, barrier: pool.barrier)
            for (w, r) in replicas.enumerated() {
                r.network.context.statistics = exchange
                r.network.context.worker = w
            }
        }
        let inWorkers = fillInWorkers ?? BatchPipeline.fillsInWorkers(config.runtime.loader, workers: workers)
        pipeline = BatchPipeline(set: train, batch: config.train.batch, part: plan.batch * group.rank ..< plan.batch * (group.rank + 1),
                                 seed: config.seed, inWorkers: inWorkers)
        if let search = config.train.architecture, let architectureSet {  // both or neither (checked at the start)
            let batches = BatchPipeline(set: architectureSet, batch: config.train.batch, seed: config.seed, inWorkers: inWorkers)
            do {
                architecture = try ArchitectureSearch(config: search, set: architectureSet, pipeline: batches, layout: model.layout)
            } catch {
                batches.shutdown(); pipeline.shutdown(); pool.shutdown()
                throw error
            }
        } else {
            architecture = nil
        }
        pool.setJob { [unowned self] w in self.work(w) }
    }

    deinit {
        pool.shutdown()
        pipeline.shutdown()
        architecture?.pipeline.shutdown()
        gradientPointers.deallocate(); parameterPointers.deallocate(); statePointers.deallocate()
        leafPointers.deallocate(); optimizerSteps.deallocate(); normSums.deallocate()
    }

    // MARK: coordinator side

    /// Starts an epoch: its sample order, and fresh counters.
    public func beginEpoch(_ epoch: Int) {
        state.order = epochPermutation(count: train.count, seed: config.seed, epoch: epoch)
        state.epoch = epoch
        pipeline.setOrder(state.order, epoch: epoch)
        if let architecture {
            architecture.pipeline.setOrder(epochPermutation(count: architecture.set.count, seed: config.seed, epoch: epoch,
                                                            stream: .architecture), epoch: epoch)
        }
        resetCounters()
    }

    /// Optimizer steps per epoch (the last partial batch is dropped).
    /// A bilevel search steps as many times as the smaller half allows.
    public var stepsPerEpoch: Int { min(train.count, architecture?.set.count ?? .max) / config.train.batch }

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
            if dynamicSchedule && workers > 1 {
                if let note = participation.beforeSubRun() { onNote?(note) }
                pool.barrier.setParties(participation.activeCount)
            }
            for k in 0..<n {
                state.rates[k] = Float(learningRate(first + done + k))
                state.averageAfter[k] = averageAfter(first + done + k)
            }
            state.mode = .trainSteps
            state.first = first + done
            state.count = n
            state.completed = 0
            state.skipped = 0
            state.stopAfter = -1
            nextShard.store(0, ordering: .relaxed)
            nextArchitectureShard.store(0, ordering: .relaxed)
            nonFiniteStep.store(-1, ordering: .relaxed)
            for (w, r) in replicas.enumerated() { waitedBefore[w] = r.waiting.total }
            let t0 = monotonicSeconds()
            pipeline.begin(first: first + done, count: n)
            architecture?.pipeline.begin(first: first + done, count: n)
            pool.run()
            pipeline.finish()
            architecture?.pipeline.finish()
            if dynamicSchedule && workers > 1,
               let note = participation.afterSubRun(seconds: monotonicSeconds() - t0, waited: { self.replicas[$0].waiting.total - self.waitedBefore[$0] }) {
                onNote?(note)
            }
            outcome.completed += state.completed
            outcome.skipped += state.skipped
            if averaging && state.completed > 0 {
                replicasAgree = config.runtime.momentum == .average && state.averageAfter[state.completed - 1]
            }
            if nonFiniteStep.load(ordering: .relaxed) >= 0 && !skipNonFinite {
                outcome.nonFiniteGradient = true
                break
            }
            if state.stopAfter >= 0 {
                outcome.interrupted = true
                break
            }
        }
        interrupt.clear()
        return outcome
    }

    /// `train.on_nan: skip`.
    private var skipNonFinite: Bool { config.train.onNaN == .skip }

    /// The run of steps ends after the current step: a signal, or a bad
    /// image that stops the run (`train.failures`, `data.on_bad_image: error`).
    private var stopRequested: Bool { interrupt.isRequested || train.failures.hasFailed }

    /// The last step's summed gradient (for diagnostics after a non-finite step).
    public var lastGradient: UnsafePointer<Float> {
        UnsafePointer(summed?.pointer ?? (dynamicSchedule ? leafPointers[0] : gradientPointers[0]))
    }

    /// Floats of each gradient buffer: every worker's arena and partial sums,
    /// the dynamic schedule's leaves, the summed arena (tests check what
    /// `BatchWeightGradients` leaves out).
    package var gradientBufferCounts: (workers: [Int], partials: [Int], leaves: [Int], summed: Int?) {
        (replicas.map(\.gradients.count), replicas.flatMap { $0.partial.map(\.count) }, leaves.map(\.count), summed?.count)
    }

    /// Sets which workers take part (tests; the engine also decides by itself).
    package func setParticipation(_ active: [Bool]) {
        precondition(dynamicSchedule)
        participation.set(active)
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
        let rank = participation.rank
        guard rank[w] >= 0 else { return }  // sitting out this sub-run
        // This worker's part of the step's reduction and update.
        let part = dynamicSchedule ? rank[w] : w, parts = dynamicSchedule ? participation.activeCount : workers
        let slice = ShardPlan.slice(of: part, workers: parts, count: model.layout.totalCount)
        let reduced = ShardPlan.slice(of: part, workers: parts, count: replicas[w].gradients.count)
        var done = 0, skipped = 0
        // This replica's optimizer updates so far (in synchronous SGD every
        // worker counts the same: they agree on every update).
        let replica = averaging ? w : 0
        var updates = optimizerSteps[replica]
        defer { if averaging || rank[w] == 0 { optimizerSteps[replica] = updates } }
        for k in 0..<state.count {
            if architecture != nil { architectureStep(w, step: k, learningRate: state.rates[k], slice: slice) }
            let applied = averaging ? averagingStep(w, step: k, learningRate: state.rates[k], update: updates + 1)
                : synchronousStep(w, step: k, learningRate: state.rates[k], update: updates + 1,
                                  part: part, of: parts, slice: slice, reduced: reduced)
            if applied { updates += 1 }
            if averaging && state.averageAfter[k] {
                pool.barrier.wait()
                average(w)
            }
            // The first active worker decides, before the barrier, whether the
            // run ends here; everyone reads the same decision after it.
            if group.size > 1 {
                pool.barrier.wait()  // this process's non-finite checks are done
                if rank[w] == 0 { agree(step: k) }
            } else if rank[w] == 0 && stopRequested {
                state.stopAfter = k
            }
            replicas[w].waiting.start()
            pool.barrier.wait()  // the step's updates are complete and visible; flags agree
            replicas[w].waiting.stop()
            if rank[w] == 0 {  // every worker is done with step k's batches
                pipeline.release(k)
                architecture?.pipeline.release(k)
            }
            if nonFiniteStep.load(ordering: .relaxed) == k {
                if !skipNonFinite { break }
                skipped += 1
            }
            if !applied && !skipNonFinite { break }
            done = k + 1
            if state.stopAfter == k { break }
        }
        if rank[w] == 0 { state.completed = done; state.skipped = skipped }  // the first active worker reports
    }

    /// Multi-process runs, once per step by one thread of each process: the
    /// ranks agree whether the run ends after this step (a signal reached any
    /// rank) and whether its gradient was non-finite on any rank (parameter
    /// averaging checks each replica alone), so every rank leaves the run of
    /// steps at the same step.
    func agree(step k: Int) {
        let local: Int32 = (stopRequested ? 1 : 0) | (nonFiniteStep.load(ordering: .relaxed) == k ? 2 : 0)
        let flags = group.any(local)
        if flags & 1 != 0 { state.stopAfter = k }
        if flags & 2 != 0 { nonFiniteStep.store(k, ordering: .relaxed) }
    }
}
