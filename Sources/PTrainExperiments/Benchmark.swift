import Foundation
import PTrain
import PTrainData
import PTrainKernels
import PTrainReporting
import PTrainRuntime

/// `ptrain bench`: training and inference throughput of a config on its
/// workers (median of repeated timed blocks after warm-up), the achieved
/// GFLOP/s against the machine's peak measured in the same run, peak RSS, and
/// where the time goes layer by layer.
public struct Benchmark {
    public struct LayerTime: Sendable, Codable {
        public let name: String, type: String
        /// Milliseconds per shard.
        public let forwardMs: Double, backwardMs: Double
        /// FLOP per shard of a GEMM layer (conv2d, dense): forward, and
        /// backward (the weight gradient, plus the input gradient unless
        /// the layer reads the model input). Zero for other layers.
        public let forwardFLOP: Double, backwardFLOP: Double
        /// A convolution's algorithms (`Conv2D.algorithmNames`); nil for other layers.
        public let algorithms: String?

        public init(name: String, type: String, forwardMs: Double, backwardMs: Double,
                    forwardFLOP: Double = 0, backwardFLOP: Double = 0, algorithms: String? = nil) {
            self.name = name; self.type = type; self.forwardMs = forwardMs; self.backwardMs = backwardMs
            self.forwardFLOP = forwardFLOP; self.backwardFLOP = backwardFLOP; self.algorithms = algorithms
        }

        /// Percent of `peak` GFLOP/s achieved; nil for non-GEMM layers.
        public func forwardPercent(ofPeak peak: Double) -> Double? { Self.percent(forwardFLOP, forwardMs, peak) }
        public func backwardPercent(ofPeak peak: Double) -> Double? { Self.percent(backwardFLOP, backwardMs, peak) }
        static func percent(_ flop: Double, _ ms: Double, _ peak: Double) -> Double? {
            flop > 0 && ms > 0 && peak > 0 ? 100 * flop / (ms * 1e-3) / (peak * 1e9) : nil
        }
    }

    public struct Report: Sendable {
        public let workers: Int
        public let batch: Int
        public let trainImagesPerSecond: Double
        public let inferImagesPerSecond: Double
        /// Training FLOP per image: 3x the forward FLOPs of conv and dense layers
        /// (forward, input gradient, weight gradient), as in docs/benchmarks.md.
        public let trainFLOPPerImage: Double
        public let peakGFLOPs: Double
        public let peakGFLOPsPerCore: Double
        public let rssMB: Double
        public let layers: [LayerTime]
        /// `runtime.precision` of the measured run. The peak stays the fp32
        /// FMA probe's (bf16's vdpbf16ps peak is twice that).
        public let precision: ComputePrecision
        public init(workers: Int, batch: Int, trainImagesPerSecond: Double, inferImagesPerSecond: Double,
                    trainFLOPPerImage: Double, peakGFLOPs: Double, peakGFLOPsPerCore: Double, rssMB: Double,
                    layers: [LayerTime], precision: ComputePrecision = .fp32) {
            self.workers = workers; self.batch = batch; self.precision = precision
            self.trainImagesPerSecond = trainImagesPerSecond; self.inferImagesPerSecond = inferImagesPerSecond
            self.trainFLOPPerImage = trainFLOPPerImage; self.peakGFLOPs = peakGFLOPs; self.peakGFLOPsPerCore = peakGFLOPsPerCore
            self.rssMB = rssMB; self.layers = layers
        }
        public var trainGFLOPs: Double { trainImagesPerSecond * trainFLOPPerImage / 1e9 }
        public var percentOfPeak: Double { 100 * trainGFLOPs / peakGFLOPs }
    }

    public var steps: Int
    public var blocks: Int
    public var warmupSteps: Int

    public init(steps: Int, blocks: Int, warmupSteps: Int) {
        self.steps = steps; self.blocks = blocks; self.warmupSteps = warmupSteps
    }

    /// `architecture`: a bilevel search's architecture split (its steps are
    /// measured whole: the architecture step and the weights' step).
    public func run(config: RunConfig, train: SampleSet, test: SampleSet, architecture: SampleSet? = nil,
                    placement: WorkerPlacement, log: (String) -> Void) throws -> Report {
        // The peak first, on a quiet machine: one FMA probe per worker core.
        let perCore = measurePeakGFLOPs(seconds: 0.3)
        let peak = perCore * Double(placement.workers)
        log(String(format: "FMA probe: %.1f GFLOP/s per core, %.1f for %d worker%@", perCore, peak, placement.workers,
                   placement.workers == 1 ? "" : "s"))
        let engine = try DataParallelEngine(config: config, train: train, test: test, architecture: architecture, workers: placement.workers,
                                            placement: placement.bindCurrentThread)
        engine.beginEpoch(0)
        let batch = config.train.batch
        var position = 0
        func runSteps(_ n: Int) throws { try engine.measurementSteps(n, position: &position) }
        try runSteps(warmupSteps)
        var trainRates: [Double] = []
        for b in 0..<blocks {
            let t0 = monotonicSeconds()
            try runSteps(steps)
            trainRates.append(Double(steps * batch) / (monotonicSeconds() - t0))
            log(String(format: "train block %d: %.0f img/s", b + 1, trainRates.last!))
        }
        _ = engine.evaluateTest(epoch: 0)  // warm-up
        var inferRates: [Double] = []
        for _ in 0..<max(blocks, 1) {
            let t0 = monotonicSeconds()
            _ = engine.evaluateTest(epoch: 0)
            inferRates.append(Double(test.count) / (monotonicSeconds() - t0))
        }
        let gemmFLOPs = engine.model.layers.filter { $0 is Conv2D || $0 is Dense }.reduce(0) { $0 + $1.forwardFLOPs }
        return Report(workers: placement.workers, batch: batch, trainImagesPerSecond: median(trainRates),
                      inferImagesPerSecond: median(inferRates), trainFLOPPerImage: 3 * Double(gemmFLOPs),
                      peakGFLOPs: peak, peakGFLOPsPerCore: perCore, rssMB: Self.peakRSSMegabytes(),
                      layers: try profileLayers(config: config, train: train), precision: config.runtime.precision)
    }

    /// Forward and backward time of every layer on one shard, single-threaded
    /// on the calling thread, median-free mean over `steps` shards after warm-up.
    func profileLayers(config: RunConfig, train: SampleSet) throws -> [LayerTime] {
        let model = try config.model.build(classes: train.classes)
        let count = model.layout.totalCount
        let params = FloatBuffer(count: count)
        model.layout.initialize(params, seed: config.seed)
        let net = Network(model: model, maxBatch: config.runtime.shard, parameters: params,
                          gradients: FloatBuffer(count: count), seed: config.seed, precision: config.runtime.precision)
        let times = UnsafeMutablePointer<Double>.allocate(capacity: 2 * model.layers.count)
        defer { times.deallocate() }
        let shard = config.runtime.shard
        let order = Array(0..<train.count)
        let rounds = max(steps, 5)
        for round in 0..<(rounds + 3) {
            if round == 3 { times.initialize(repeating: 0, count: 2 * model.layers.count); net.profile = times }
            let lo = (round * shard) % max(train.count - shard, 1)
            train.fill(order[lo..<(lo + shard)], input: net.input.pointer, labels: net.labels.pointer)
            for i in 0..<shard { net.context.sampleIndices[i] = lo + i }
            net.forward(batch: shard, training: true)
            var correct = 0
            _ = net.loss(batch: shard, gradScale: 1 / Float(shard), correct: &correct)
            net.backward(batch: shard)
        }
        net.profile = nil
        return model.layers.enumerated().map { i, layer in
            let gemm = layer is Conv2D || layer is Dense
            let forward = gemm ? Double(layer.forwardFLOPs * shard) : 0
            let readsInput = model.inputs[i].contains(-1)
            return LayerTime(name: layer.name, type: layer.typeName, forwardMs: 1e3 * times[i] / Double(rounds),
                             backwardMs: 1e3 * times[model.layers.count + i] / Double(rounds),
                             forwardFLOP: forward, backwardFLOP: readsInput ? forward : 2 * forward,
                             algorithms: (layer as? Conv2D)?.algorithmNames(inputGradient: !readsInput))
        }
    }

    /// Peak resident set size of this process (getrusage reports KiB on Linux).
    public static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    public static func text(_ r: Report, config: RunConfig) -> String {
        var lines = [String(format: "%@: %d worker%@, batch %d, %@", config.name, r.workers, r.workers == 1 ? "" : "s", r.batch,
                            r.precision.rawValue),
                     String(format: "train: %.0f img/s, %.1f GFLOP/s (%.1f%% of the %.1f GFLOP/s peak; %.2f MFLOP/image)",
                            r.trainImagesPerSecond, r.trainGFLOPs, r.percentOfPeak, r.peakGFLOPs, r.trainFLOPPerImage / 1e6),
                     String(format: "inference: %.0f img/s", r.inferImagesPerSecond),
                     String(format: "peak RSS: %.0f MB", r.rssMB),
                     "per layer (one shard of \(config.runtime.shard), one thread; % of one core's peak for conv2d and dense;"
                        + " a convolution's algorithms: all passes', or forward / input gradient / weight gradient):"]
        let nameWidth = max(7, r.layers.map(\.name.count).max() ?? 0)
        let typeWidth = max(10, r.layers.map(\.type.count).max() ?? 0)
        func pad(_ s: String, _ width: Int) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
        func percent(_ p: Double?) -> String { p.map { String(format: "%8.0f%%", $0) } ?? String(repeating: " ", count: 9) }
        lines.append(pad("layer", nameWidth) + " " + pad("type", typeWidth) + "  forward ms  backward ms   share  fwd peak  bwd peak"
                     + (r.layers.contains { $0.algorithms != nil } ? "  algorithms" : ""))
        let total = r.layers.reduce(0) { $0 + $1.forwardMs + $1.backwardMs }
        for l in r.layers {
            lines.append(pad(l.name, nameWidth) + " " + pad(l.type, typeWidth)
                         + String(format: " %11.3f %12.3f %6.1f%%", l.forwardMs, l.backwardMs,
                                  100 * (l.forwardMs + l.backwardMs) / max(total, 1e-12))
                         + " " + percent(l.forwardPercent(ofPeak: r.peakGFLOPsPerCore))
                         + " " + percent(l.backwardPercent(ofPeak: r.peakGFLOPsPerCore))
                         + (l.algorithms.map { "  " + $0 } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object; `environment` (a JSON object, see `RunEnvironment`)
    /// goes under "environment" when given.
    public static func json(_ r: Report, environment: String? = nil) -> String {
        let layers = r.layers.map { l in
            var s = String(format: "{\"name\":\"%@\",\"type\":\"%@\",\"forward_ms\":%.4f,\"backward_ms\":%.4f", l.name, l.type,
                           l.forwardMs, l.backwardMs)
            if let f = l.forwardPercent(ofPeak: r.peakGFLOPsPerCore), let b = l.backwardPercent(ofPeak: r.peakGFLOPsPerCore) {
                s += String(format: ",\"forward_percent_of_peak\":%.1f,\"backward_percent_of_peak\":%.1f", f, b)
            }
            if let algorithms = l.algorithms { s += ",\"algorithms\":\"\(algorithms)\"" }
            return s + "}"
        }.joined(separator: ",")
        return String(format: "{\"workers\":%d,\"batch\":%d,\"precision\":\"%@\",\"train_img_s\":%.1f,\"infer_img_s\":%.1f,\"train_gflop_s\":%.2f,\"peak_gflop_s\":%.2f,\"percent_of_peak\":%.2f,\"rss_mb\":%.1f,\"layers\":[%@]%@}",
                      r.workers, r.batch, r.precision.rawValue, r.trainImagesPerSecond, r.inferImagesPerSecond, r.trainGFLOPs, r.peakGFLOPs,
                      r.percentOfPeak, r.rssMB, layers, environment.map { ",\"environment\":\($0)" } ?? "")
    }
}
