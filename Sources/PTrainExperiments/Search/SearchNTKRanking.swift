import Foundation
import PTrain
import PTrainData
import PTrainReporting
import PTrainRuntime

/// The search's stretch goal: rank a search's candidates before training by
/// their NTK condition number at initialisation (`NTKScore`), and say how well
/// that ranking agrees with the trained metric recorded so far
/// (`ptrain search SEARCH.yaml --ntk`). Writes `OUT/ntk.csv`.
public enum SearchNTKRanking {
    public struct Score: Sendable {
        public let trial: Int
        public let values: [String]
        public let conditionNumber: Double
        public init(trial: Int, values: [String], conditionNumber: Double) {
            self.trial = trial; self.values = values; self.conditionNumber = conditionNumber
        }
    }

    /// One row per budget: Spearman's rank correlation between log10 of the
    /// condition number and the metric, over the trials trained to that budget.
    public struct Agreement: Sendable, Equatable {
        public let epochs: Int
        public let trials: Int
        public let spearman: Double
        public init(epochs: Int, trials: Int, spearman: Double) { self.epochs = epochs; self.trials = trials; self.spearman = spearman }
    }

    /// Every trial the search's method plans, in trial order (Hyperband: the
    /// first rung of every bracket).
    public static func plannedTrials(_ spec: SearchSpec) throws -> [(trial: Int, values: [String])] {
        switch spec.method {
        case .grid:
            let points = try spec.space.grid()
            return points.indices.map { ($0, points[$0]) }
        case .random(let trials, _, let seed), .successiveHalving(let trials, _, _, let seed):
            return (0..<trials).map { ($0, spec.space.sample(seed: seed, trial: $0)) }
        case .hyperband(let maxEpochs, let eta, let seed):
            let count = HyperbandSchedule(maxEpochs: Double(maxEpochs), eta: eta).brackets.reduce(0) { $0 + $1.trials }
            return (0..<count).map { ($0, spec.space.sample(seed: seed, trial: $0)) }
        case .darts:
            return []  // one search network, no trials
        }
    }

    /// Scores every planned trial on `samples` training samples.
    public static func score(_ spec: SearchSpec, samples: Int, say: (String) -> Void) throws -> [Score] {
        try plannedTrials(spec).map { trial, values in
            let config = try RunConfig.load(file: spec.base, overrides: spec.fixed + spec.space.overrides(values))
            let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
            let t0 = monotonicSeconds()
            let result = try NTKScore.compute(config: config, train: data.train, samples: samples)
            let text = zip(spec.space.keys, values).map { "\($0)=\($1)" }.joined(separator: " ")
            say(String(format: "trial %3d  NTK condition number %.4g  %@  %.1fs", trial, result.conditionNumber, text, monotonicSeconds() - t0))
            return Score(trial: trial, values: values, conditionNumber: result.conditionNumber)
        }
    }

    /// Agreement with the recorded trainings, per budget with at least 4 trials.
    public static func agreement(_ scores: [Score], records: [TrialRecord]) -> [Agreement] {
        let byTrial = Dictionary(uniqueKeysWithValues: scores.map { ($0.trial, $0.conditionNumber) })
        let scored = records.filter { $0.metric != nil && byTrial[$0.trial] != nil }
        return Set(scored.map(\.epochs)).sorted().compactMap { e in
            let rows = scored.filter { $0.epochs == e }
            guard rows.count >= 4 else { return nil }
            return Agreement(epochs: e, trials: rows.count,
                             spearman: spearman(rows.map { log10(byTrial[$0.trial]!) }, rows.map { $0.metric! }))
        }
    }

    public static func csv(_ scores: [Score], keys: [String]) -> String {
        (["trial"] + keys + ["ntk_condition_number"]).joined(separator: ",") + "\n"
            + scores.map { ([String($0.trial)] + $0.values + [String($0.conditionNumber)]).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }
}

/// Spearman's rank correlation (ties get their mean rank): the Pearson
/// correlation of the ranks. NaN when either side is constant.
public func spearman(_ x: [Double], _ y: [Double]) -> Double {
    precondition(x.count == y.count)
    func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        return r
    }
    let a = ranks(x), b = ranks(y), n = Double(x.count)
    let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for i in a.indices { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb) }
    return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : .nan
}
