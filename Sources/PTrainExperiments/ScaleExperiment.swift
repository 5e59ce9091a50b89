import Foundation
import PTrain
import PTrainData
import PTrainReporting
import PTrainRuntime
import PTrainTopology

/// A scaling experiment: the same training steps at several worker counts,
/// measured in interleaved rounds (so slow drifts of a shared machine hit every
/// worker count alike), with the load of other processes recorded for every
/// sample and contended samples set aside.
///
/// Strong scaling keeps the global batch; weak scaling multiplies it by the
/// worker count (same work per worker). Efficiency is
/// `img/s(W) / (W * img/s(first count))`, relative to the first count, scaled
/// to one worker.
///
/// Under MPI (`group` of R processes) the worker counts are per process, every
/// rank runs the same rounds, rank 0's clock times them, and each sample also
/// records the time per step spent adding the processes' gradients.
public struct ScaleExperiment {
    public enum Mode: String, Sendable, CaseIterable { case strong, weak }

    public struct Sample: Sendable {
        public let workers: Int, round: Int
        public let imagesPerSecond: Double
        /// Cores kept busy by other processes during the sample.
        public let otherCores: Double
        public let noisy: Bool
        /// Milliseconds per step in the cross-process sum (0 with one process).
        public let crossReduceMilliseconds: Double
        /// Milliseconds per step in the shared-memory sum (partial sums and
        /// slice sum, the slowest worker's).
        public let reduceMilliseconds: Double
        /// Milliseconds per step computing shard gradients, and waiting at the
        /// step's barriers for slower workers (each the slowest worker's): where
        /// a step's time goes besides the sum.
        public let computeMilliseconds: Double, waitingMilliseconds: Double
        public init(workers: Int, round: Int, imagesPerSecond: Double, otherCores: Double, noisy: Bool,
                    crossReduceMilliseconds: Double = 0, reduceMilliseconds: Double = 0,
                    computeMilliseconds: Double = 0, waitingMilliseconds: Double = 0) {
            self.workers = workers; self.round = round; self.imagesPerSecond = imagesPerSecond
            self.otherCores = otherCores; self.noisy = noisy; self.crossReduceMilliseconds = crossReduceMilliseconds
            self.reduceMilliseconds = reduceMilliseconds
            self.computeMilliseconds = computeMilliseconds; self.waitingMilliseconds = waitingMilliseconds
        }
    }

    public struct Row: Sendable {
        public let workers: Int
        /// Median over the (quiet) samples.
        public let imagesPerSecond: Double
        /// Median over rounds of img/s against the first count's sample of
        /// the same round (see `summarize`).
        public let speedup: Double
        public let efficiency: Double
        public let samples: Int
        public let noisySamples: Int
        /// Median milliseconds per step in the cross-process sum.
        public let crossReduceMilliseconds: Double
        /// Median milliseconds per step in the shared-memory sum.
        public let reduceMilliseconds: Double
        /// Median milliseconds per step computing gradients and waiting at barriers.
        public let computeMilliseconds: Double, waitingMilliseconds: Double
        /// The modelled cost of that sum (nil under parameter averaging).
        public let cost: ReductionCost?
    }

    public var workerCounts: [Int]
    public var mode: Mode
    public var steps: Int
    public var rounds: Int
    public var warmupSteps: Int
    /// A sample taken while other processes kept more than this many cores busy is noisy.
    public var noiseThreshold: Double = 0.25

    public init(workerCounts: [Int], mode: Mode, steps: Int, rounds: Int, warmupSteps: Int) {
        self.workerCounts = workerCounts; self.mode = mode; self.steps = steps; self.rounds = rounds; self.warmupSteps = warmupSteps
    }

    /// Runs the experiment. `placement(W)` gives the engine's worker count
    /// binding for W workers. Returns every sample and the summary rows.
    /// `architecture`: a bilevel search's architecture split (its steps are
    /// measured whole, the architecture step included).
    public func run(config: RunConfig, train: SampleSet, test: SampleSet, architecture: SampleSet? = nil,
                    placement: (Int) throws -> WorkerPlacement, group: ProcessGroup = SingleProcess(),
                    log: (String) -> Void) throws -> (samples: [Sample], rows: [Row]) {
        var engines: [(Int, DataParallelEngine, Int)] = []  // (workers, engine, batch)
        var costs: [Int: ReductionCost] = [:]
        let ranks = group.size
        for w in workerCounts {
            var c = config
            if mode == .weak { c.train.batch = config.train.batch * w * ranks }
            let p = try placement(w)
            let engine = try DataParallelEngine(config: c, train: train, test: test, architecture: architecture, workers: w,
                                                placement: p.bindCurrentThread, group: group)
            engine.beginEpoch(0)
            engines.append((w, engine, c.train.batch))
            log((ranks > 1 ? "\(ranks) processes x " : "") + "\(w) worker\(w == 1 ? "" : "s"): batch \(c.train.batch), \(engine.plan.shards * ranks) shards of \(c.runtime.shard); "
                + p.description.replacingOccurrences(of: "\n", with: ", "))
            if let cost = engine.reductionCost(nodes: MemoryPlacement(p.placements).nodes) {
                costs[w] = cost
                log("\(w) worker\(w == 1 ? "" : "s"): \(cost.summary)")
            }
        }
        var position = [Int](repeating: 0, count: engines.count)
        func runSteps(_ i: Int, _ n: Int) throws { try engines[i].1.measurementSteps(n, position: &position[i]) }
        for i in engines.indices { try runSteps(i, warmupSteps) }
        var samples: [Sample] = []
        for round in 0..<rounds {
            // Rotate the order every round so no worker count always runs first.
            for k in 0..<engines.count {
                let i = (k + round) % engines.count
                let before = SystemLoad.sample()
                engines[i].1.resetCounters()
                let t0 = monotonicSeconds()
                try runSteps(i, steps)
                let seconds = monotonicSeconds() - t0
                let other = before.otherCores(until: SystemLoad.sample())
                let counters = engines[i].1.gatherCounters()
                let perStep = 1e3 / Double(steps)  // seconds in all steps -> ms per step
                let cross = perStep * counters.crossReduce
                let s = Sample(workers: engines[i].0, round: round, imagesPerSecond: Double(steps * engines[i].2) / seconds,
                               otherCores: other, noisy: other > noiseThreshold, crossReduceMilliseconds: cross,
                               reduceMilliseconds: perStep * counters.reduce, computeMilliseconds: perStep * counters.compute,
                               waitingMilliseconds: perStep * counters.waiting)
                samples.append(s)
                log(String(format: "round %d: %d worker%@ %.0f img/s%@ (other processes: %.2f cores; per step: compute %.1f ms, waiting %.1f ms)%@",
                           round + 1, s.workers, s.workers == 1 ? "" : "s", s.imagesPerSecond,
                           ranks > 1 ? String(format: ", across processes %.2f ms/step", cross) : "",
                           other, s.computeMilliseconds, s.waitingMilliseconds, s.noisy ? "  [noisy]" : ""))
            }
        }
        return (samples, Self.summarize(samples, workerCounts: workerCounts, costs: costs))
    }

    /// Median img/s per worker count over quiet samples (all samples if none
    /// was quiet), and speedup/efficiency against the first worker count.
    ///
    /// Speedup is paired: the median over rounds of img/s(W) / img/s(first
    /// count) within one round, whose two samples ran seconds apart, using the
    /// rounds where both are quiet (all rounds with both, if none is). A shared
    /// machine drifts between fast and slow phases lasting tens of seconds;
    /// a ratio of the two overall medians mixes phases, a within-round ratio
    /// mostly does not. Without any pair it falls back to the ratio of medians.
    /// `costs`: the modelled reduction cost per worker count, carried into the rows.
    public static func summarize(_ samples: [Sample], workerCounts: [Int], costs: [Int: ReductionCost] = [:]) -> [Row] {
        func quietOrAll(_ mine: [Sample]) -> [Sample] {
            let quiet = mine.filter { !$0.noisy }
            return quiet.isEmpty ? mine : quiet
        }
        guard let base = workerCounts.first else { return [] }
        let baseSamples = samples.filter { $0.workers == base }
        let baseRate = median(quietOrAll(baseSamples).map(\.imagesPerSecond))
        guard baseRate > 0 else { return [] }
        return workerCounts.map { w in
            let mine = samples.filter { $0.workers == w }
            let used = quietOrAll(mine)
            let rate = median(used.map(\.imagesPerSecond))
            let pairs = mine.compactMap { s in baseSamples.first { $0.round == s.round }.map { (s, $0) } }
            let quietPairs = pairs.filter { !$0.0.noisy && !$0.1.noisy }
            let ratios = (quietPairs.isEmpty ? pairs : quietPairs).map { $0.0.imagesPerSecond / $0.1.imagesPerSecond }
            let speedup = ratios.isEmpty ? rate / baseRate : median(ratios)
            return Row(workers: w, imagesPerSecond: rate, speedup: speedup, efficiency: speedup * Double(base) / Double(w),
                       samples: mine.count, noisySamples: mine.filter(\.noisy).count,
                       crossReduceMilliseconds: median(used.map(\.crossReduceMilliseconds)),
                       reduceMilliseconds: median(used.map(\.reduceMilliseconds)),
                       computeMilliseconds: median(used.map(\.computeMilliseconds)),
                       waitingMilliseconds: median(used.map(\.waitingMilliseconds)), cost: costs[w])
        }
    }

    /// The summary; `processes` > 1 adds the cross-process column.
    public static func table(_ rows: [Row], processes: Int = 1) -> String {
        let multi = processes > 1
        var lines = ["workers      img/s   speedup  efficiency  samples (noisy)  waiting ms/step" + (multi ? "  across processes ms/step" : "")]
        for r in rows {
            lines.append(String(format: "%7d %10.0f %9.2f %10.1f%%  %7d (%d)  %15.2f", r.workers, r.imagesPerSecond, r.speedup,
                                100 * r.efficiency, r.samples, r.noisySamples, r.waitingMilliseconds)
                         + (multi ? String(format: "  %24.3f", r.crossReduceMilliseconds) : ""))
        }
        if multi { lines.insert("\(processes) processes (MPI ranks); workers per process", at: 0) }
        return lines.joined(separator: "\n")
    }

    /// One object per row; `reduce_ms`, `compute_ms` and `wait_ms` (per step) are measured, `reduce_bytes_per_worker`,
    /// `cross_node_bytes` and `barriers_per_step` are `ReductionCost`'s (0 when not modelled).
    public static func jsonLines(_ rows: [Row], processes: Int = 1) -> String {
        rows.map { String(format: "{\"processes\":%d,\"workers\":%d,\"img_s\":%.1f,\"speedup\":%.4f,\"efficiency\":%.4f,\"samples\":%d,\"noisy\":%d,\"cross_reduce_ms\":%.4f,"
                          + "\"reduce_ms\":%.4f,\"compute_ms\":%.3f,\"wait_ms\":%.3f,\"reduce_bytes_per_worker\":%d,\"cross_node_bytes\":%d,\"barriers_per_step\":%d}",
                          processes, $0.workers, $0.imagesPerSecond, $0.speedup, $0.efficiency, $0.samples, $0.noisySamples, $0.crossReduceMilliseconds,
                          $0.reduceMilliseconds, $0.computeMilliseconds, $0.waitingMilliseconds, $0.cost?.bytesPerWorker ?? 0, $0.cost?.crossNodeBytes ?? 0, $0.cost?.barriersPerStep ?? 0) }
            .joined(separator: "\n") + "\n"
    }

    public static func csv(_ samples: [Sample]) -> String {
        "workers,round,img_s,other_cores,noisy,cross_reduce_ms\n" + samples.map {
            String(format: "%d,%d,%.1f,%.3f,%@,%.4f", $0.workers, $0.round, $0.imagesPerSecond, $0.otherCores, $0.noisy ? "true" : "false",
                   $0.crossReduceMilliseconds)
        }.joined(separator: "\n") + "\n"
    }

    public static func chart(_ rows: [Row], title: String) -> String {
        let base = rows.first.map { $0.imagesPerSecond / Double($0.workers) } ?? 0
        return SVGChart(title: title, xLabel: "workers", yLabel: "training images/s", series: [
            .init(name: "measured (median)", points: rows.map { (Double($0.workers), $0.imagesPerSecond) }, color: "#1f77b4"),
            .init(name: "ideal (linear)", points: rows.map { (Double($0.workers), base * Double($0.workers)) }, color: "#999", dashed: true),
        ]).render()
    }
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
