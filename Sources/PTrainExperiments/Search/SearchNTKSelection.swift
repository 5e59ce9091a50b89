import Foundation
import PTrain
import PTrainRuntime

/// NTK that selects, not only ranks (`ptrain search SEARCH.yaml --ntk
/// --train-best K`): trains the K best-scored planned trials (lowest
/// condition number, ties to the lower trial number) and, as the control,
/// K planned trials picked at random, both at the search's per-trial budget;
/// writes `OUT/ntk-select.csv` and `OUT/ntk-select.txt`. The two picks may
/// overlap: a trial in both is trained once and counted in both groups.
public enum SearchNTKSelection {
    public enum Group: String, Sendable { case ntk, random }

    /// One trained trial of one group.
    public struct Row: Sendable, Equatable {
        public let group: Group
        public let trial: Int
        public let values: [String]
        public let conditionNumber: Double
        /// The search metric; nil when the training failed.
        public let metric: Double?
        public let seconds: Double
        public init(group: Group, trial: Int, values: [String], conditionNumber: Double, metric: Double?, seconds: Double) {
            self.group = group; self.trial = trial; self.values = values
            self.conditionNumber = conditionNumber; self.metric = metric; self.seconds = seconds
        }
    }

    /// Checks `--train-best` before anything is scored.
    public static func validate(trainBest k: Int, ntk: Bool, planned: Int) throws {
        guard ntk else { throw RunError("--train-best needs --ntk: it trains the trials the NTK score picks") }
        guard k >= 1 else { throw RunError("--train-best: expected at least 1 trial, found \(k)") }
        guard k <= planned else {
            throw RunError("--train-best: expected at most \(planned) (the trials the search plans), found \(k)")
        }
    }

    /// Epochs each picked trial is trained for: the method's `epochs` (grid,
    /// random), or the largest budget a trial can reach (Hyperband:
    /// `max_epochs`; successive halving: its last rung), so that a pick gets
    /// what the search's winner would have got.
    public static func budget(_ spec: SearchSpec) -> Int {
        switch spec.method {
        case .grid(let epochs), .random(_, let epochs, _): return epochs
        case .hyperband(let maxEpochs, _, _): return maxEpochs
        case .successiveHalving(let trials, let minEpochs, let eta, _):
            let rungs = HyperbandSchedule.halving(trials: trials, firstEpochs: Double(minEpochs), eta: eta,
                                                  rungs: HyperbandSchedule.rungCount(trials: trials, eta: eta))
            return SearchRunner.wholeEpochs(rungs.last!.epochs)
        case .darts(let m): return m.epochs
        }
    }

    /// The seed of the random control: the method's seed (grid has none: 1,
    /// the other methods' default).
    public static func seed(_ spec: SearchSpec) -> UInt64 {
        switch spec.method {
        case .grid: return 1
        case .random(_, _, let seed), .hyperband(_, _, let seed), .successiveHalving(_, _, _, let seed): return seed
        case .darts(let m): return m.seed
        }
    }

    /// The `k` lowest condition numbers (NaN last), ties to the lower trial; in trial order.
    public static func ntkPick(_ scores: [SearchNTKRanking.Score], k: Int) -> [SearchNTKRanking.Score] {
        let ranked = scores.sorted { a, b in
            let x = a.conditionNumber.isNaN ? .infinity : a.conditionNumber
            let y = b.conditionNumber.isNaN ? .infinity : b.conditionNumber
            return x == y ? a.trial < b.trial : x < y
        }
        return ranked.prefix(k).sorted { $0.trial < $1.trial }
    }

    /// `k` distinct scores drawn uniformly (partial Fisher-Yates), keyed by
    /// `seed` alone; in trial order.
    public static func randomPick(_ scores: [SearchNTKRanking.Score], k: Int, seed: UInt64) -> [SearchNTKRanking.Score] {
        // Trial index UInt64.max: no sampled trial uses it, so the pick shares
        // no draws with the values the space samples for a trial.
        var rng = CounterRNG(seed: seed, stream: .search, UInt64.max)
        var pool = scores
        for i in 0..<k { pool.swapAt(i, i + rng.below(pool.count - i)) }
        return pool.prefix(k).sorted { $0.trial < $1.trial }
    }

    /// Trains both picks through `runner` at `budget(spec)`; the rows of the
    /// NTK group, then the random group.
    public static func run(_ scores: [SearchNTKRanking.Score], k: Int, runner: SearchRunner) throws -> [Row] {
        let spec = runner.spec
        let picks: [(Group, [SearchNTKRanking.Score])] = [
            (.ntk, ntkPick(scores, k: k)), (.random, randomPick(scores, k: k, seed: seed(spec))),
        ]
        let union = Dictionary(picks.flatMap(\.1).map { ($0.trial, $0) }, uniquingKeysWith: { a, _ in a })
        let jobs = union.keys.sorted().map { (trial: $0, values: union[$0]!.values, epochs: budget(spec)) }
        let records = Dictionary(uniqueKeysWithValues: try runner.train(jobs).map { ($0.trial, $0) })
        return picks.flatMap { group, pick in
            pick.map { s in
                Row(group: group, trial: s.trial, values: s.values, conditionNumber: s.conditionNumber,
                    metric: records[s.trial]!.metric, seconds: records[s.trial]!.seconds)
            }
        }
    }

    /// Writes `ntk-select.csv` and `ntk-select.txt` (the summary) into `dir`; returns the summary.
    public static func write(_ rows: [Row], spec: SearchSpec, into dir: URL) throws -> String {
        let text = summary(rows, spec: spec)
        try AtomicFile.write(csv(rows, spec: spec), to: dir.appendingPathComponent("ntk-select.csv"))
        try AtomicFile.write(text + "\n", to: dir.appendingPathComponent("ntk-select.txt"))
        return text
    }

    /// `ntk-select.csv`: group, trial, the space's values, condition number, metric, seconds.
    public static func csv(_ rows: [Row], spec: SearchSpec) -> String {
        let header = (["group", "trial"] + spec.space.keys + ["ntk_condition_number", spec.metric.rawValue, "seconds"])
        return ([header] + rows.map { r in
            [r.group.rawValue, String(r.trial)] + r.values.map(csvField) + [String(r.conditionNumber), r.metric.map { "\($0)" } ?? "",
                                                              String(format: "%.1f", r.seconds)]
        }).map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// One line comparing the groups: best and mean metric, training seconds, overlap.
    public static func summary(_ rows: [Row], spec: SearchSpec) -> String {
        func describe(_ group: Group) -> String {
            let own = rows.filter { $0.group == group }
            let metrics = own.compactMap(\.metric)
            let trials = own.map { String($0.trial) }.joined(separator: " ")
            let seconds = String(format: "%.1f s", own.reduce(0) { $0 + $1.seconds })
            let failed = own.count - metrics.count
            guard let best = spec.maximize ? metrics.max() : metrics.min() else {
                return "\(group.rawValue) pick [\(trials)]: every training failed, \(seconds)"
            }
            let mean = metrics.reduce(0, +) / Double(metrics.count)
            return "\(group.rawValue) pick [\(trials)]: best \(spec.format(best)), mean \(spec.format(mean))"
                + (failed > 0 ? " (\(failed) failed)" : "") + ", \(seconds)"
        }
        let shared = Set(rows.filter { $0.group == .ntk }.map(\.trial)).intersection(rows.filter { $0.group == .random }.map(\.trial)).count
        let k = rows.filter { $0.group == .ntk }.count
        let epochs = budget(spec)
        return "\(k) trial\(k == 1 ? "" : "s") per group, \(epochs) epoch\(epochs == 1 ? "" : "s"), \(spec.metric.rawValue) on the \(spec.scoredSplit) split: "
            + describe(.ntk) + "; " + describe(.random) + " (seed \(seed(spec)), \(shared) shared)"
    }
}
