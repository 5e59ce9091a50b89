import Foundation
import PTrain
import PTrainData
import PTrainKernels

/// Trains a model from a `RunConfig`, data-parallel over persistent worker
/// threads: every minibatch is cut into fixed shards (`ShardPlan`), each
/// worker computes the gradient of its block of shards, the gradients are
/// reduce-scattered in shared memory in a fixed tree order, and each worker
/// applies SGD to its slice of the one parameter arena (synchronous SGD).
/// With `runtime.sync.every: K > 1`, workers instead keep their own replicas
/// and optimizer state and average them every K steps (parameter averaging).
///
/// Every random choice is keyed by the seed (initialisation, epoch
/// permutations, dropout by sample index), and the reduction order does not
/// depend on the worker count, so synchronous runs give bitwise-identical
/// weights for every power-of-two worker count that divides the shard count.
public final class Trainer {
    public let config: RunConfig
    public let directory: RunDirectory
    public let train: SampleSet
    public let test: SampleSet
    public let model: Model
    public let plan: ShardPlan
    /// The weights: replica 0's arena (the only one in synchronous mode).
    public var parameters: FloatBuffer { parameterArenas[0] }

    private let log: (String) -> Void
    private let parameterArenas: [FloatBuffer]
    private let velocities: [FloatBuffer]
    private let replicas: [WorkerReplica]
    private let pool: WorkerPool
    private let metrics: MetricsLog
    private let startTime: Double
    /// Gradient (and, for averaging, parameter/velocity) arenas by worker, for the reductions.
    private let gradientPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let parameterPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let velocityPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let state = StepState()

    public struct Result: Sendable {
        public let epochs: Int
        public let steps: Int
        public let finalEval: EvalResult
        public let elapsed: Double
        /// Best test top-1 over the run's evaluations.
        public let bestTop1: Double
    }

    /// What the workers do on the next `pool.run()`, published by the
    /// coordinator before it releases them (the start barrier orders it).
    private final class StepState: @unchecked Sendable {
        enum Mode { case trainStep, average, evaluate }
        var mode = Mode.trainStep
        var order: [Int] = []
        var base = 0
        var learningRate: Float = 0
        var epoch = 0
    }

    /// `placement(w)` runs on worker w's own thread before anything else
    /// (pinning); its error stops the construction.
    public init(config: RunConfig, directory: RunDirectory, train: SampleSet, test: SampleSet,
                workers: Int, placement: @escaping @Sendable (Int) throws -> Void = { _ in },
                startTime: Double = monotonicSeconds(), log: @escaping (String) -> Void) throws {
        self.config = config
        self.directory = directory
        self.log = log
        self.train = train
        self.test = test
        self.startTime = startTime
        plan = ShardPlan(batch: config.train.batch, shardSize: config.runtime.shard, workers: workers)
        if let problem = plan.problem { throw RunError("runtime: \(problem)") }
        model = try config.model.build(classes: train.classes)
        let count = model.layout.totalCount
        let averaging = config.runtime.syncEvery > 1
        let replicaCount = averaging ? workers : 1
        parameterArenas = (0..<replicaCount).map { _ in FloatBuffer(count: count) }
        for arena in parameterArenas { model.layout.initialize(arena, seed: config.seed) }
        velocities = (0..<replicaCount).map { _ in FloatBuffer(count: count) }
        var replicas: [WorkerReplica] = []
        for w in 0..<workers {
            // Worker 0 uses `model`'s layers; the others build their own (layers hold scratch).
            let m = w == 0 ? model : try config.model.build(classes: train.classes)
            let params = parameterArenas[averaging ? w : 0]
            let network = Network(model: m, maxBatch: config.runtime.shard, parameters: params,
                                  gradients: FloatBuffer(count: count), seed: config.seed)
            let evalNetwork = Network(model: try config.model.build(classes: train.classes), maxBatch: config.train.evalBatch,
                                      parameters: params, gradients: FloatBuffer(count: count), seed: config.seed)
            replicas.append(WorkerReplica(network: network, evalNetwork: evalNetwork,
                                          shardsPerWorker: plan.shards / workers))
        }
        self.replicas = replicas
        gradientPointers = .allocate(capacity: workers)
        parameterPointers = .allocate(capacity: workers)
        velocityPointers = .allocate(capacity: workers)
        for w in 0..<workers {
            gradientPointers[w] = replicas[w].network.gradients.pointer
            parameterPointers[w] = parameterArenas[averaging ? w : 0].pointer
            velocityPointers[w] = velocities[averaging ? w : 0].pointer
        }
        pool = try WorkerPool(count: workers, setUp: placement)
        try AtomicFile.write(config.resolvedYAML, to: directory.config)
        metrics = try MetricsLog(url: directory.metrics)
        pool.setJob { [unowned self] w in self.work(w) }
    }

    deinit {
        pool.shutdown()
        gradientPointers.deallocate(); parameterPointers.deallocate(); velocityPointers.deallocate()
    }

    public var stepsPerEpoch: Int { train.count / config.train.batch }
    public var workers: Int { plan.workers }

    // MARK: worker side

    private func work(_ w: Int) {
        switch state.mode {
        case .trainStep: trainStep(w)
        case .average: average(w)
        case .evaluate: evaluate(w)
        }
    }

    private func trainStep(_ w: Int) {
        let r = replicas[w]
        let averaging = config.runtime.syncEvery > 1
        let shards = plan.shards(of: w)
        // Synchronous SGD: each shard's loss is scaled by 1/B so the tree sum
        // is the mean gradient of the global batch. Averaging: the mean over
        // this worker's own B/W samples.
        let scale = 1 / Float(averaging ? config.train.batch / workers : config.train.batch)
        r.network.context.epoch = state.epoch
        state.order.withUnsafeBufferPointer { order in
            r.gradient(shards: shards.lowerBound, shards.upperBound, order: order.baseAddress!, base: state.base,
                       shardSize: plan.shardSize, set: train, gradScale: scale)
        }
        let sgd = SGD(config: config.train.optimizer)
        let count = model.layout.totalCount
        if averaging {
            r.update.start()
            sgd.update(parameters: parameterPointers[w], gradients: gradientPointers[w], velocity: velocityPointers[w],
                       count: count, learningRate: state.learningRate)
            r.update.stop()
            return
        }
        pool.barrier.wait()  // every worker's gradient is complete
        let slice = ShardPlan.slice(of: w, workers: workers, count: count)
        r.reduce.start()
        treeReduce(gradientPointers, count: workers, range: slice)
        r.reduce.stop()
        r.update.start()
        sgd.update(parameters: parameterPointers[0] + slice.lowerBound, gradients: gradientPointers[0] + slice.lowerBound,
                   velocity: velocityPointers[0] + slice.lowerBound, count: slice.count, learningRate: state.learningRate)
        r.update.stop()
    }

    /// Parameter averaging: replicas (and momentum, if configured) averaged
    /// slice by slice in the fixed tree order, then copied back to every replica.
    private func average(_ w: Int) {
        let r = replicas[w]
        let slice = ShardPlan.slice(of: w, workers: workers, count: model.layout.totalCount)
        r.reduce.start()
        func averageSlice(_ pointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>) {
            treeReduce(pointers, count: workers, range: slice)
            scale(pointers[0] + slice.lowerBound, by: 1 / Float(workers), count: slice.count)
            for v in 1..<workers {
                (pointers[v] + slice.lowerBound).update(from: pointers[0] + slice.lowerBound, count: slice.count)
            }
        }
        averageSlice(parameterPointers)
        if config.runtime.averageMomentum { averageSlice(velocityPointers) }
        r.reduce.stop()
    }

    /// Worker w evaluates its contiguous share of the test set.
    private func evaluate(_ w: Int) {
        let r = replicas[w]
        let lo = test.count * w / workers, hi = test.count * (w + 1) / workers
        r.lossSum = 0; r.correct = 0
        let net = r.evalNetwork
        net.context.epoch = state.epoch
        var start = lo
        while start < hi {
            let n = min(net.maxBatch, hi - start)
            test.fill(start..<(start + n), input: net.input.pointer, labels: net.labels.pointer)
            for i in 0..<n { net.context.sampleIndices[i] = start + i }
            net.forward(batch: n, training: false)
            r.lossSum += Double(net.loss(batch: n, gradScale: nil, correct: &r.correct))
            start += n
        }
    }

    // MARK: coordinator side

    /// Test-set loss and top-1 with the current weights, on all workers.
    public func evaluateTest(epoch: Int) -> EvalResult {
        state.mode = .evaluate
        state.epoch = epoch
        pool.run()
        var loss = 0.0, correct = 0
        for r in replicas { loss += r.lossSum; correct += r.correct }
        return EvalResult(loss: loss / Double(max(test.count, 1)), top1: Double(correct) / Double(max(test.count, 1)), count: test.count)
    }

    public func run() throws -> Result {
        let t = config.train
        guard stepsPerEpoch > 0 else {
            throw RunError("train.batch \(t.batch) is larger than the \(train.count) training samples")
        }
        let totalSteps = min(t.maxSteps ?? Int.max, t.epochs * stepsPerEpoch)
        let epochs = (totalSteps + stepsPerEpoch - 1) / stepsPerEpoch
        let schedule = LearningRateSchedule(base: t.optimizer.learningRate, config: t.schedule,
                                            totalEpochs: Double(totalSteps) / Double(stepsPerEpoch))
        let mode = config.runtime.syncEvery > 1 ? "parameter averaging every \(config.runtime.syncEvery) steps" : "synchronous SGD"
        log("run \(config.name): \(train.count) training / \(test.count) test samples, \(epochs) epochs x \(stepsPerEpoch) steps of \(t.batch) (\(plan.shards) shards of \(plan.shardSize)), \(workers) worker\(workers == 1 ? "" : "s"), \(mode)")
        if config.runtime.syncEvery == 1 && !plan.isCanonical {
            log("note: \(workers) workers is not a power of two dividing \(plan.shards) shards: results are deterministic but not bitwise equal to other worker counts")
        }
        log("run directory: \(directory.url.path)")

        var step = 0
        var best = 0.0
        var last = EvalResult(loss: .nan, top1: 0, count: 0)
        for epoch in 0..<epochs {
            state.order = epochPermutation(count: train.count, seed: config.seed, epoch: epoch)
            state.epoch = epoch
            replicas.forEach { $0.resetCounters() }
            let epochStart = monotonicSeconds()
            var seen = 0
            var lr = 0.0
            for s in 0..<stepsPerEpoch where step < totalSteps {
                lr = schedule.rate(at: Double(epoch) + Double(s) / Double(stepsPerEpoch))
                state.mode = .trainStep
                state.base = s * t.batch
                state.learningRate = Float(lr)
                pool.run()
                seen += t.batch
                step += 1
                let lastOfEpoch = s == stepsPerEpoch - 1 || step == totalSteps
                if config.runtime.syncEvery > 1 && (step % config.runtime.syncEvery == 0 || lastOfEpoch) {
                    state.mode = .average
                    pool.run()
                }
                if let bad = model.layout.firstNonFiniteTensor(in: parameters) {
                    throw RunError("step \(step) (epoch \(epoch + 1)): non-finite values first in the parameters of \(bad) after the update; lower train.optimizer.lr or check the data")
                }
                if t.logEvery > 0 && step % t.logEvery == 0 {
                    let c = counters()
                    let rate = Double(seen) / (monotonicSeconds() - epochStart)
                    log(String(format: "  epoch %d step %d/%d  loss %.4f  train-top1 %.2f%%  lr %.4g  %.0f img/s  per step: data %.2f compute %.2f reduce %.2f update %.2f ms",
                               epoch + 1, s + 1, stepsPerEpoch, c.loss / Double(seen), 100 * Double(c.correct) / Double(seen), lr, rate,
                               1e3 * c.data / Double(s + 1), 1e3 * c.compute / Double(s + 1), 1e3 * c.reduce / Double(s + 1), 1e3 * c.update / Double(s + 1)))
                    metrics.write(["event": "train", "epoch": .int(epoch + 1), "step": .int(step),
                                   "loss": .double(c.loss / Double(seen)), "top1": .double(Double(c.correct) / Double(seen)),
                                   "lr": .double(lr), "img_s": .double(rate), "elapsed_s": .double(monotonicSeconds() - startTime),
                                   "data_ms": .double(1e3 * c.data / Double(s + 1)), "compute_ms": .double(1e3 * c.compute / Double(s + 1)),
                                   "reduce_ms": .double(1e3 * c.reduce / Double(s + 1)), "update_ms": .double(1e3 * c.update / Double(s + 1))])
                }
            }
            let epochTime = monotonicSeconds() - epochStart
            let rate = Double(seen) / epochTime
            let c = counters()
            let steps = Double(max(seen / t.batch, 1))
            metrics.write(["event": "epoch", "epoch": .int(epoch + 1), "step": .int(step), "split": "train",
                           "loss": .double(c.loss / Double(max(seen, 1))), "top1": .double(Double(c.correct) / Double(max(seen, 1))),
                           "lr": .double(lr), "img_s": .double(rate), "workers": .int(workers),
                           "data_ms": .double(1e3 * c.data / steps), "compute_ms": .double(1e3 * c.compute / steps),
                           "reduce_ms": .double(1e3 * c.reduce / steps), "update_ms": .double(1e3 * c.update / steps),
                           "elapsed_s": .double(monotonicSeconds() - startTime)])
            last = evaluateTest(epoch: epoch)
            best = max(best, last.top1)
            let elapsed = monotonicSeconds() - startTime
            metrics.write(["event": "eval", "epoch": .int(epoch + 1), "step": .int(step), "split": "test",
                           "loss": .double(last.loss), "top1": .double(last.top1), "elapsed_s": .double(elapsed)])
            log(String(format: "epoch %d/%d  loss %.4f  train-top1 %.2f%%  test-loss %.4f  test-top1 %.2f%%  %.0f img/s  per step: data %.2f compute %.2f reduce %.2f update %.2f ms  elapsed %.1fs",
                       epoch + 1, epochs, c.loss / Double(max(seen, 1)), 100 * Double(c.correct) / Double(max(seen, 1)),
                       last.loss, 100 * last.top1, rate, 1e3 * c.data / steps, 1e3 * c.compute / steps,
                       1e3 * c.reduce / steps, 1e3 * c.update / steps, elapsed))
            try saveWeights(epoch: epoch + 1, step: step)
        }
        return Result(epochs: epochs, steps: step, finalEval: last, elapsed: monotonicSeconds() - startTime, bestTop1: best)
    }

    /// Loss and accuracy summed over workers; times per step of the slowest
    /// worker in each phase (the one the step waits for).
    private func counters() -> (loss: Double, correct: Int, data: Double, compute: Double, reduce: Double, update: Double) {
        var c = (loss: 0.0, correct: 0, data: 0.0, compute: 0.0, reduce: 0.0, update: 0.0)
        for r in replicas {
            c.loss += r.lossSum; c.correct += r.correct
            c.data = max(c.data, r.data.total); c.compute = max(c.compute, r.compute.total)
            c.reduce = max(c.reduce, r.reduce.total); c.update = max(c.update, r.update.total)
        }
        return c
    }

    /// `checkpoints/last.safetensors`: weights under PyTorch names, with the
    /// resolved config, epoch and step as metadata.
    private func saveWeights(epoch: Int, step: Int) throws {
        let data = Safetensors.encode(model.layout.tensors(from: parameters.pointer),
                                      metadata: ["format": "ptrain-weights-1", "epoch": String(epoch),
                                                 "step": String(step), "config": config.resolvedYAML])
        try AtomicFile.write(data, to: directory.checkpoints.appendingPathComponent("last.safetensors"))
    }
}
