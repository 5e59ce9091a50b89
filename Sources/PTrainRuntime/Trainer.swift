import Foundation
import PTrain
import PTrainKernels
import PTrainData

/// Trains a model from a `RunConfig` on one worker: epochs of shuffled
/// minibatches, each cut into fixed shards whose gradients accumulate into the
/// flat gradient arena, then one SGD update; evaluation on the test split
/// after every epoch; metrics and checkpoints into the run directory.
///
/// Every random choice is keyed by the seed (initialisation, epoch
/// permutations, dropout by sample index), so a run is reproducible.
public final class Trainer {
    public let config: RunConfig
    public let directory: RunDirectory
    private let log: (String) -> Void
    public let train: SampleSet
    public let test: SampleSet
    public let model: Model
    public let parameters: FloatBuffer
    private let gradients: FloatBuffer
    private let velocity: FloatBuffer
    private let network: Network
    private let evalNetwork: Network
    private let metrics: MetricsLog
    private let startTime: Double

    public struct Result: Sendable {
        public let epochs: Int
        public let steps: Int
        public let finalEval: EvalResult
        public let elapsed: Double
        /// Best test top-1 over the run's evaluations.
        public let bestTop1: Double
    }

    public init(config: RunConfig, directory: RunDirectory, train: SampleSet, test: SampleSet,
                startTime: Double = monotonicSeconds(), log: @escaping (String) -> Void) throws {
        self.config = config
        self.directory = directory
        self.log = log
        self.train = train
        self.test = test
        self.startTime = startTime
        model = try config.model.build(classes: train.classes)
        parameters = FloatBuffer(count: model.layout.totalCount)
        model.layout.initialize(parameters, seed: config.seed)
        gradients = FloatBuffer(count: model.layout.totalCount)
        velocity = FloatBuffer(count: model.layout.totalCount)
        network = Network(model: model, maxBatch: config.runtime.shard, parameters: parameters,
                          gradients: gradients, seed: config.seed)
        // A second replica for evaluation in larger chunks; it shares the
        // parameters and never computes gradients.
        evalNetwork = Network(model: try config.model.build(classes: train.classes), maxBatch: config.train.evalBatch,
                              parameters: parameters, gradients: FloatBuffer(count: model.layout.totalCount), seed: config.seed)
        try AtomicFile.write(config.resolvedYAML, to: directory.config)
        metrics = try MetricsLog(url: directory.metrics)
    }

    public var stepsPerEpoch: Int { train.count / config.train.batch }

    public func run() throws -> Result {
        let t = config.train
        let shards = t.batch / config.runtime.shard
        let shard = config.runtime.shard
        guard stepsPerEpoch > 0 else {
            throw RunError("train.batch \(t.batch) is larger than the \(train.count) training samples")
        }
        let totalSteps = min(t.maxSteps ?? Int.max, t.epochs * stepsPerEpoch)
        let epochs = (totalSteps + stepsPerEpoch - 1) / stepsPerEpoch
        let schedule = LearningRateSchedule(base: t.optimizer.learningRate, config: t.schedule,
                                            totalEpochs: Double(totalSteps) / Double(stepsPerEpoch))
        let sgd = SGD(config: t.optimizer)
        let gradScale = 1 / Float(t.batch)
        log("run \(config.name): \(train.count) training / \(test.count) test samples, \(epochs) epochs x \(stepsPerEpoch) steps of \(t.batch) (\(shards) shard\(shards == 1 ? "" : "s") of \(shard)), 1 worker")
        log("run directory: \(directory.url.path)")

        var step = 0
        var best = 0.0
        var last = EvalResult(loss: .nan, top1: 0, count: 0)
        var indices = [Int](repeating: 0, count: shard)
        for epoch in 0..<epochs {
            let order = epochPermutation(count: train.count, seed: config.seed, epoch: epoch)
            network.context.epoch = epoch
            var lossSum: Double = 0, correct = 0, seen = 0
            var compute = Stopwatch(), data = Stopwatch(), update = Stopwatch()
            let epochStart = monotonicSeconds()
            var lr = 0.0
            for s in 0..<stepsPerEpoch where step < totalSteps {
                gradients.zero()
                for k in 0..<shards {
                    data.start()
                    let base = s * t.batch + k * shard
                    for i in 0..<shard { indices[i] = order[base + i]; network.context.sampleIndices[i] = order[base + i] }
                    train.fill(indices, input: network.input.pointer, labels: network.labels.pointer)
                    data.stop()
                    compute.start()
                    network.forward(batch: shard, training: true)
                    lossSum += Double(network.loss(batch: shard, gradScale: gradScale, correct: &correct))
                    network.backward(batch: shard)
                    compute.stop()
                }
                seen += t.batch
                update.start()
                if let bad = model.layout.firstNonFiniteTensor(in: gradients) {
                    let layer = network.firstNonFiniteActivation(batch: shard).map { "the output of layer \(model.layers[$0].name) (\(model.layers[$0].typeName))" }
                        ?? "the gradient of \(bad)"
                    throw RunError("step \(step + 1) (epoch \(epoch + 1)): non-finite values first in \(layer); lower train.optimizer.lr or check the data")
                }
                lr = schedule.rate(at: Double(epoch) + Double(s) / Double(stepsPerEpoch))
                sgd.update(parameters: parameters.pointer, gradients: gradients.pointer, velocity: velocity.pointer,
                           count: parameters.count, learningRate: Float(lr))
                update.stop()
                step += 1
                if t.logEvery > 0 && step % t.logEvery == 0 {
                    let rate = Double(seen) / (monotonicSeconds() - epochStart)
                    log(String(format: "  epoch %d step %d/%d  loss %.4f  train-top1 %.2f%%  lr %.4g  %.0f img/s",
                               epoch + 1, s + 1, stepsPerEpoch, lossSum / Double(seen), 100 * Double(correct) / Double(seen), lr, rate))
                    metrics.write(["event": "train", "epoch": .int(epoch + 1), "step": .int(step),
                                   "loss": .double(lossSum / Double(seen)), "top1": .double(Double(correct) / Double(seen)),
                                   "lr": .double(lr), "img_s": .double(rate), "elapsed_s": .double(monotonicSeconds() - startTime)])
                }
            }
            let epochTime = monotonicSeconds() - epochStart
            let rate = Double(seen) / epochTime
            metrics.write(["event": "epoch", "epoch": .int(epoch + 1), "step": .int(step), "split": "train",
                           "loss": .double(lossSum / Double(max(seen, 1))), "top1": .double(Double(correct) / Double(max(seen, 1))),
                           "lr": .double(lr), "img_s": .double(rate), "data_s": .double(data.total),
                           "compute_s": .double(compute.total), "update_s": .double(update.total),
                           "elapsed_s": .double(monotonicSeconds() - startTime)])
            last = Evaluator.evaluate(evalNetwork, on: test, epoch: epoch)
            best = max(best, last.top1)
            let elapsed = monotonicSeconds() - startTime
            metrics.write(["event": "eval", "epoch": .int(epoch + 1), "step": .int(step), "split": "test",
                           "loss": .double(last.loss), "top1": .double(last.top1), "elapsed_s": .double(elapsed)])
            log(String(format: "epoch %d/%d  loss %.4f  train-top1 %.2f%%  test-loss %.4f  test-top1 %.2f%%  %.0f img/s  (data %.1fs, compute %.1fs, update %.1fs)  elapsed %.1fs",
                       epoch + 1, epochs, lossSum / Double(max(seen, 1)), 100 * Double(correct) / Double(max(seen, 1)),
                       last.loss, 100 * last.top1, rate, data.total, compute.total, update.total, elapsed))
            try saveWeights(epoch: epoch + 1, step: step)
        }
        return Result(epochs: epochs, steps: step, finalEval: last, elapsed: monotonicSeconds() - startTime, bestTop1: best)
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
