import Foundation
import Synchronization
import PTrain
import PTrainData
import PTrainReporting
import PTrainRuntime
import PTrainTopology

/// One finished (or failed) training of a trial to a budget.
public struct TrialRecord: Codable, Sendable, Equatable {
    public let trial: Int
    public let epochs: Int
    /// The space's values, in key order.
    public let values: [String]
    /// The search metric at the end of the budget; nil when the trial failed.
    public let metric: Double?
    public let seconds: Double
    /// `ok`, or the error that stopped the trial.
    public let status: String
    /// Where it ran: `all cores` or `group 1: core 1`.
    public let placement: String

    public init(trial: Int, epochs: Int, values: [String], metric: Double?, seconds: Double, status: String, placement: String) {
        self.trial = trial; self.epochs = epochs; self.values = values; self.metric = metric
        self.seconds = seconds; self.status = status; self.placement = placement
    }
}

/// Runs a search: trials are ordinary runs under `OUT/trials/trial-NNNN`
/// (resumable like any run), recorded in `OUT/results.jsonl` as they finish.
/// Running the same search again reads the records back: finished trainings
/// are not repeated, and a trial promoted to a larger budget resumes from its
/// checkpoint. Hyperband and successive halving promote the best `floor(n /
/// eta)` of each rung (ties to the lower trial number), so the plan depends
/// only on the records, and a resumed search makes the same choices.
public final class SearchRunner: @unchecked Sendable {
    public let spec: SearchSpec
    public let out: URL
    private let say: @Sendable (String) -> Void
    private let records: Mutex<[TrialRecord]>
    private let topology: CPUTopology

    public init(spec: SearchSpec, out: URL, topology: CPUTopology, say: @escaping @Sendable (String) -> Void) throws {
        self.spec = spec
        self.out = out
        self.say = say
        self.topology = topology
        try FileManager.default.createDirectory(at: out.appendingPathComponent("trials"), withIntermediateDirectories: true)
        records = Mutex(try Self.readRecords(out.appendingPathComponent("results.jsonl")))
    }

    public var results: [TrialRecord] { records.withLock { $0 } }

    /// Runs every planned training not recorded yet; returns all records.
    public func run() throws -> [TrialRecord] {
        switch spec.method {
        case .grid(let epochs):
            let points = try spec.space.grid()
            try runRung(points.indices.map { ($0, points[$0], epochs) })
        case .random(let trials, let epochs, let seed):
            try runRung((0..<trials).map { ($0, spec.space.sample(seed: seed, trial: $0), epochs) })
        case .hyperband(let maxEpochs, let eta, let seed):
            var first = 0
            for bracket in HyperbandSchedule(maxEpochs: Double(maxEpochs), eta: eta).brackets {
                say("bracket s=\(bracket.s): " + bracket.rungs.map { "\($0.trials) x \(Self.wholeEpochs($0.epochs))" }.joined(separator: ", ") + " epochs")
                try runBracket(bracket.rungs, firstTrial: first, seed: seed)
                first += bracket.trials
            }
        case .successiveHalving(let trials, let minEpochs, let eta, let seed):
            let rungs = HyperbandSchedule.rungCount(trials: trials, eta: eta)
            try runBracket(HyperbandSchedule.halving(trials: trials, firstEpochs: Double(minEpochs), eta: eta, rungs: rungs),
                           firstTrial: 0, seed: seed)
        case .darts:
            throw RunError("\(spec.file): a DARTS search trains one search network, not trials (DartsSearch runs it)")
        }
        try writeSummaries()
        return results
    }

    /// Trains the given trials (those not recorded yet, like any rung) and
    /// rewrites the summaries; returns the record of each job, in job order.
    /// `--ntk --train-best` trains its picks through here.
    public func train(_ jobs: [(trial: Int, values: [String], epochs: Int)]) throws -> [TrialRecord] {
        try runRung(jobs)
        try writeSummaries()
        return jobs.map { record(trial: $0.trial, epochs: $0.epochs)! }
    }

    /// A rung's fractional budget in whole epochs (at least 1).
    static func wholeEpochs(_ e: Double) -> Int { max(1, Int(e.rounded())) }

    /// Successive halving over trials `firstTrial...`: each rung trains the
    /// survivors to its budget, then keeps the best for the next.
    private func runBracket(_ rungs: [HyperbandSchedule.Rung], firstTrial: Int, seed: UInt64) throws {
        var alive = Array(firstTrial..<(firstTrial + (rungs.first?.trials ?? 0)))
        for (i, rung) in rungs.enumerated() {
            let e = Self.wholeEpochs(rung.epochs)
            try runRung(alive.map { ($0, spec.space.sample(seed: seed, trial: $0), e) })
            guard i + 1 < rungs.count else { break }
            let scored = alive.compactMap { t in record(trial: t, epochs: e)?.metric.map { (t, $0) } }
            let ranked = scored.sorted { a, b in
                a.1 == b.1 ? a.0 < b.0 : (spec.maximize ? a.1 > b.1 : a.1 < b.1)
            }
            alive = ranked.prefix(rungs[i + 1].trials).map(\.0).sorted()
        }
    }

    private func record(trial: Int, epochs: Int) -> TrialRecord? {
        records.withLock { $0.last { $0.trial == trial && $0.epochs == epochs } }
    }

    /// Trains each (trial, values, epochs) not yet recorded: one at a time on
    /// all cores, or concurrently, one per core group.
    private func runRung(_ jobs: [(trial: Int, values: [String], epochs: Int)]) throws {
        let todo = jobs.filter { record(trial: $0.trial, epochs: $0.epochs) == nil }
        guard !todo.isEmpty else { return }
        guard let perTrial = spec.coresPerTrial else {
            for job in todo { finish(train(job, group: nil, groups: nil)) }
            return
        }
        let groups: CoreGroups
        do { groups = try CoreGroups(cores: topology.cores, coresPerGroup: perTrial) } catch let e as TopologyError {
            throw RunError("resources.cores_per_trial: \(e.description)")
        }
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: min(groups.groups.count, todo.count)) { _ in
            let g = groups.acquire()!
            defer { groups.release(g) }
            while true {
                let k = next.add(1, ordering: .relaxed).oldValue
                guard k < todo.count else { return }
                finish(train(todo[k], group: g, groups: groups))
            }
        }
    }

    private func finish(_ r: TrialRecord) {
        records.withLock { $0.append(r) }
        do {
            let line = String(decoding: try JSONEncoder.sorted.encode(r), as: UTF8.self) + "\n"
            try appendLine(line, to: out.appendingPathComponent("results.jsonl"))
        } catch {
            say("warning: could not record trial \(r.trial): \(error)")
        }
        let values = zip(spec.space.keys, r.values).map { "\($0)=\($1)" }.joined(separator: " ")
        let metric = r.metric.map(spec.format) ?? r.status
        say(String(format: "trial %3d  %3d epochs  %@  %@  %.1fs  (%@)", r.trial, r.epochs, metric, values, r.seconds, r.placement))
    }

    /// One training of a trial to `epochs`, resuming its run directory when it has a checkpoint.
    private func train(_ job: (trial: Int, values: [String], epochs: Int), group: Int?, groups: CoreGroups?) -> TrialRecord {
        let start = monotonicSeconds()
        let placementText = group.map { groups!.describe($0) } ?? "all cores"
        func failed(_ message: String) -> TrialRecord {
            TrialRecord(trial: job.trial, epochs: job.epochs, values: job.values, metric: nil,
                        seconds: monotonicSeconds() - start, status: message, placement: placementText)
        }
        do {
            let dir = out.appendingPathComponent("trials").appendingPathComponent(String(format: "trial-%04d", job.trial))
            var overrides = spec.fixed + spec.space.overrides(job.values) + ["train.epochs=\(job.epochs)"]
            if let group, let groups { overrides += ["runtime.workers=\(groups.groups[group].count)", "runtime.bind=core"] }
            let config = try RunConfig.load(file: spec.base, overrides: overrides)
            let data = try DataSources.load(config)
            let cores = group.map { groups!.groups[$0] }
            let placements = try cores.map { try CPUTopology.plan(workers: $0.count, bind: .core, cores: $0) }
                ?? WorkerPlacement.plan(config.runtime, topology: topology).placements
            let topology = self.topology
            let bind: @Sendable (Int) throws -> Void = { w in
                if let core = placements[w].core { try topology.bindCurrentThread(toCore: core) }
            }
            let checkpoint = try Self.latestCheckpoint(in: dir)
            let directory = checkpoint == nil ? try RunDirectory.create(explicit: dir.path, name: config.name) : try RunDirectory.existing(dir)
            if checkpoint == nil {
                try RunEnvironment.capture(topology: topology, placements: placements, data: config.data).write(into: directory.url)
            }
            let trainer = try Trainer(config: config, directory: directory, train: data.train, test: data.test,
                                      validation: data.validation, architecture: data.architecture, classNames: data.classNames,
                                      workers: placements.count, placement: bind, resume: checkpoint)
            let result = try trainer.run()
            let metric = spec.maximize ? result.finalEval.top1 : result.finalEval.loss
            return TrialRecord(trial: job.trial, epochs: job.epochs, values: job.values, metric: metric,
                               seconds: monotonicSeconds() - start, status: "ok", placement: placementText)
        } catch let e as CustomStringConvertible {
            return failed(e.description)
        } catch {
            return failed("\(error)")
        }
    }

    /// The latest checkpoint of the run directory `dir` (`checkpoints/step-N`), if any.
    static func latestCheckpoint(in dir: URL) throws -> Checkpoint? {
        let checkpoints = dir.appendingPathComponent("checkpoints")
        let latest = ((try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? [])
            .filter { $0.hasPrefix("step-") }.sorted { Int($0.dropFirst(5)) ?? 0 < Int($1.dropFirst(5)) ?? 0 }.last
        return try latest.map { try Checkpoint.read(checkpoints.appendingPathComponent($0)) }
    }

    /// `results.csv`, the chart, and `best.yaml` (the best trial's config at its largest budget).
    private func writeSummaries() throws {
        let all = results
        let header = (["trial", "epochs"] + spec.space.keys + [spec.metric.rawValue, "seconds", "status"]).joined(separator: ",")
        let rows = all.map { r in
            ([String(r.trial), String(r.epochs)] + r.values.map(csvField) + [r.metric.map { "\($0)" } ?? "", String(format: "%.1f", r.seconds), csvField(r.status)])
                .joined(separator: ",")
        }
        try AtomicFile.write(([header] + rows).joined(separator: "\n") + "\n", to: out.appendingPathComponent("results.csv"))
        let byTrial = Dictionary(grouping: all.filter { $0.metric != nil }, by: \.trial)
        let series = byTrial.keys.sorted().enumerated().map { i, t in
            SVGChart.Series(name: "trial \(t)", points: byTrial[t]!.sorted { $0.epochs < $1.epochs }.map { (Double($0.epochs), spec.maximize ? 100 * $0.metric! : $0.metric!) },
                            color: ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"][i % 8])
        }
        let split = spec.scoredSplit
        let chart = SVGChart(title: "search: \(spec.metric) against budget", xLabel: "epochs",
                             yLabel: spec.maximize ? "\(split) top-1 %" : "\(split) loss", series: series)
        try AtomicFile.write(chart.render(width: 800, height: 500), to: out.appendingPathComponent("chart.svg"))
        guard let best = best else { return }
        let config = try RunConfig.load(file: spec.base, overrides: spec.fixed + spec.space.overrides(best.values) + ["train.epochs=\(best.epochs)"])
        let comment = "# best trial \(best.trial) of \(spec.file): \(spec.metric) \(spec.format(best.metric!)) after \(best.epochs) epochs\n"
        try AtomicFile.write(comment + config.resolvedYAML, to: out.appendingPathComponent("best.yaml"))
    }

    /// The best record at the largest budget any trial reached.
    public var best: TrialRecord? {
        let scored = results.filter { $0.metric != nil }
        guard let top = scored.map(\.epochs).max() else { return nil }
        return scored.filter { $0.epochs == top }.min { a, b in
            a.metric! == b.metric! ? a.trial < b.trial : (spec.maximize ? a.metric! > b.metric! : a.metric! < b.metric!)
        }
    }

    private static func readRecords(_ url: URL) throws -> [TrialRecord] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").enumerated().map { i, line in
            do { return try JSONDecoder().decode(TrialRecord.self, from: Data(line.utf8)) } catch {
                throw RunError("\(url.path):\(i + 1): not a trial record (\(error))")
            }
        }
    }
}

/// A CSV field, quoted when it holds a comma or a quote.
func csvField(_ s: String) -> String {
    s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// Appends a line and flushes it to disk (a record survives a kill).
private func appendLine(_ line: String, to url: URL) throws {
    // A failed create surfaces as FileHandle's error on the next line.
    if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(line.utf8))
    try handle.synchronize()
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
