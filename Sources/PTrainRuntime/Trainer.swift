import Foundation
import PTrain
import PTrainData

/// A training run: epochs of steps on a `DataParallelEngine`, the learning
/// rate schedule, evaluation on the test split after every epoch, progress
/// lines, `metrics.jsonl` and checkpoints in the run directory.
public final class Trainer {
    public let config: RunConfig
    public let directory: RunDirectory
    public let engine: DataParallelEngine
    public var model: Model { engine.model }
    public var parameters: FloatBuffer { engine.parameters }
    private let log: (String) -> Void
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
                workers: Int, placement: @escaping @Sendable (Int) throws -> Void = { _ in },
                startTime: Double = monotonicSeconds(), log: @escaping (String) -> Void) throws {
        self.config = config
        self.directory = directory
        self.log = log
        self.startTime = startTime
        engine = try DataParallelEngine(config: config, train: train, test: test, workers: workers, placement: placement)
        engine.onNote = { log("note: \($0)") }
        try AtomicFile.write(config.resolvedYAML, to: directory.config)
        metrics = try MetricsLog(url: directory.metrics)
    }

    public var stepsPerEpoch: Int { engine.train.count / config.train.batch }

    public func run() throws -> Result {
        let t = config.train, rt = config.runtime
        let workers = engine.workers, plan = engine.plan
        guard stepsPerEpoch > 0 else {
            throw RunError("train.batch \(t.batch) is larger than the \(engine.train.count) training samples")
        }
        let totalSteps = min(t.maxSteps ?? Int.max, t.epochs * stepsPerEpoch)
        let epochs = (totalSteps + stepsPerEpoch - 1) / stepsPerEpoch
        let schedule = LearningRateSchedule(base: t.optimizer.learningRate, config: t.schedule,
                                            totalEpochs: Double(totalSteps) / Double(stepsPerEpoch))
        let mode = engine.averaging ? "parameter averaging every \(rt.syncEvery) steps" : "synchronous SGD"
        log("run \(config.name): \(engine.train.count) training / \(engine.test.count) test samples, \(epochs) epochs x \(stepsPerEpoch) steps of \(t.batch) (\(plan.shards) shards of \(plan.shardSize)), \(workers) worker\(workers == 1 ? "" : "s"), \(mode)")
        if !engine.averaging && !plan.isCanonical {
            log("note: \(workers) workers is not a power of two dividing \(plan.shards) shards: results are deterministic but not bitwise equal to other worker counts")
        }
        log("run directory: \(directory.url.path)")

        var step = 0
        var best = 0.0
        var last = EvalResult(loss: .nan, top1: 0, count: 0)
        for epoch in 0..<epochs {
            engine.beginEpoch(epoch)
            let epochStart = monotonicSeconds()
            var seen = 0
            var lr = 0.0
            let epochSteps = min(stepsPerEpoch, totalSteps - step)
            let epochFirstStep = step
            var s = 0
            while s < epochSteps {
                // Run up to the next progress line (or the epoch's end) among the workers.
                let n = t.logEvery > 0 ? min(t.logEvery - step % t.logEvery, epochSteps - s) : epochSteps - s
                let done = engine.steps(first: s, count: n, learningRate: { k in
                    schedule.rate(at: Double(epoch) + Double(k) / Double(self.stepsPerEpoch))
                }, averageAfter: { k in
                    (epochFirstStep + k + 1) % rt.syncEvery == 0 || k == epochSteps - 1
                })
                lr = schedule.rate(at: Double(epoch) + Double(s + max(done - 1, 0)) / Double(stepsPerEpoch))
                s += done
                step += done
                seen += done * t.batch
                if done < n {
                    let bad = model.layout.firstNonFiniteTensor(in: parameters) ?? "the parameters"
                    throw RunError("step \(step) (epoch \(epoch + 1)): non-finite values first in \(bad) after the update; lower train.optimizer.lr or check the data")
                }
                if t.logEvery > 0 && step % t.logEvery == 0 {
                    let c = engine.counters
                    let rate = Double(seen) / (monotonicSeconds() - epochStart)
                    log(String(format: "  epoch %d step %d/%d  loss %.4f  train-top1 %.2f%%  lr %.4g  %.0f img/s  %@",
                               epoch + 1, s, stepsPerEpoch, c.loss / Double(seen), 100 * Double(c.correct) / Double(seen), lr, rate,
                               timingText(c, steps: s)))
                    var fields: [String: MetricValue] = ["event": "train", "epoch": .int(epoch + 1), "step": .int(step),
                                                         "loss": .double(c.loss / Double(seen)), "top1": .double(Double(c.correct) / Double(seen)),
                                                         "lr": .double(lr), "img_s": .double(rate), "elapsed_s": .double(monotonicSeconds() - startTime)]
                    timingFields(c, steps: s).forEach { fields[$0] = $1 }
                    metrics.write(fields)
                }
            }
            let rate = Double(seen) / (monotonicSeconds() - epochStart)
            let c = engine.counters
            let steps = max(seen / t.batch, 1)
            var fields: [String: MetricValue] = ["event": "epoch", "epoch": .int(epoch + 1), "step": .int(step), "split": "train",
                                                 "loss": .double(c.loss / Double(max(seen, 1))), "top1": .double(Double(c.correct) / Double(max(seen, 1))),
                                                 "lr": .double(lr), "img_s": .double(rate), "workers": .int(workers),
                                                 "elapsed_s": .double(monotonicSeconds() - startTime)]
            timingFields(c, steps: steps).forEach { fields[$0] = $1 }
            metrics.write(fields)
            last = engine.evaluateTest(epoch: epoch)
            best = max(best, last.top1)
            let elapsed = monotonicSeconds() - startTime
            metrics.write(["event": "eval", "epoch": .int(epoch + 1), "step": .int(step), "split": "test",
                           "loss": .double(last.loss), "top1": .double(last.top1), "elapsed_s": .double(elapsed)])
            log(String(format: "epoch %d/%d  loss %.4f  train-top1 %.2f%%  test-loss %.4f  test-top1 %.2f%%  %.0f img/s  %@  elapsed %.1fs",
                       epoch + 1, epochs, c.loss / Double(max(seen, 1)), 100 * Double(c.correct) / Double(max(seen, 1)),
                       last.loss, 100 * last.top1, rate, timingText(c, steps: steps), elapsed))
            try saveWeights(epoch: epoch + 1, step: step)
        }
        return Result(epochs: epochs, steps: step, finalEval: last, elapsed: monotonicSeconds() - startTime, bestTop1: best)
    }

    /// `per step: data 0.08 compute 16.9 reduce 0.03 update 0.02 ms`.
    private func timingText(_ c: DataParallelEngine.Counters, steps: Int) -> String {
        let n = Double(max(steps, 1))
        return String(format: "per step: data %.2f compute %.2f reduce %.2f update %.2f ms",
                      1e3 * c.data / n, 1e3 * c.compute / n, 1e3 * c.reduce / n, 1e3 * c.update / n)
    }

    private func timingFields(_ c: DataParallelEngine.Counters, steps: Int) -> [String: MetricValue] {
        let n = Double(max(steps, 1))
        return ["data_ms": .double(1e3 * c.data / n), "compute_ms": .double(1e3 * c.compute / n),
                "reduce_ms": .double(1e3 * c.reduce / n), "update_ms": .double(1e3 * c.update / n)]
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
