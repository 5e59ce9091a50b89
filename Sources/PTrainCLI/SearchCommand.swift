import ArgumentParser
import Foundation
import PTrain
import PTrainExperiments
import PTrainRuntime
import PTrainTopology

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search hyper-parameters or architectures: grid, random, Hyperband or successive halving over config keys, or a differentiable architecture search (DARTS).")

    @Argument(help: "The search file (see configs/search/).")
    var file: String

    @Option(help: "Search directory (default runs/search-NAME). Running the same search into it again resumes it.")
    var out: String?

    @Flag(help: "Train nothing: score every planned trial by its NTK condition number at initialisation (lower is better), write ntk.csv, and compare the ranking with the trainings recorded in the directory.")
    var ntk = false

    @Option(help: "Samples of the NTK batch (with --ntk).")
    var samples: Int = 32

    @Option(name: .customLong("train-best"), help: "With --ntk: train the K best-scored trials and, as the control, K trials picked at random (the method's seed) at the search's per-trial budget; writes ntk-select.csv and ntk-select.txt.")
    var trainBest: Int?

    func run() throws {
        try reportingErrors {
            let spec = try SearchSpec.load(file: file)
            // Before the directory is created: a mistyped option leaves nothing behind.
            if let trainBest {
                try SearchNTKSelection.validate(trainBest: trainBest, ntk: ntk, planned: try SearchNTKRanking.plannedTrials(spec).count)
            }
            let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            let dir = URL(fileURLWithPath: out ?? "runs/search-\(name)")
            let topology: CPUTopology
            do { topology = try CPUTopology() } catch let e as TopologyError { throw RunError(e.description) }
            if case .darts(let method) = spec.method {
                guard !ntk else { throw RunError("--ntk scores the trials of a grid, random or bandit search; a DARTS search (\(file)) has none") }
                // The outcome is printed and written by the search itself; nil: a signal stopped it.
                if try DartsSearch(spec: spec, method: method, out: dir).run(topology: topology, say: { say($0) }) == nil {
                    say("search stopped; run the same command to resume it")
                }
                return
            }
            let runner = try SearchRunner(spec: spec, out: dir, topology: topology, say: { say($0) })
            // The search's own record (no workers: each trial directory has its own).
            let base = try RunConfig.load(file: spec.base, overrides: spec.fixed)
            try RunEnvironment.capture(topology: topology, placements: [], data: base.data).write(into: dir)
            if ntk {
                let scores = try SearchNTKRanking.score(spec, samples: samples, say: { say($0) })
                try AtomicFile.write(SearchNTKRanking.csv(scores, keys: spec.space.keys), to: dir.appendingPathComponent("ntk.csv"))
                if let trainBest {
                    let rows = try SearchNTKSelection.run(scores, k: trainBest, runner: runner)
                    say(try SearchNTKSelection.write(rows, spec: spec, into: dir))
                    say("selection: \(dir.path)/ntk-select.csv, ntk-select.txt")
                }
                let agreement = SearchNTKRanking.agreement(scores, records: runner.results)
                if agreement.isEmpty { say("no budget has 4 or more recorded trainings to compare the ranking with") }
                for a in agreement {
                    say(String(format: "after %d epoch%@: Spearman correlation of log10(NTK condition number) with %@ over %d trials: %+.3f",
                               a.epochs, a.epochs == 1 ? "" : "s", spec.metric.rawValue, a.trials, a.spearman))
                }
                say("scores: \(dir.path)/ntk.csv")
                return
            }
            if !runner.results.isEmpty { say("resuming \(dir.path): \(runner.results.count) trainings recorded") }
            _ = try runner.run()
            if let best = runner.best {
                let values = zip(spec.space.keys, best.values).map { "\($0)=\($1)" }.joined(separator: " ")
                say("best: trial \(best.trial), \(spec.metric) \(spec.format(best.metric!)) after \(best.epochs) epochs: \(values)")
                say("results: \(dir.path)/results.csv, chart.svg, best.yaml")
            }
        }
    }
}
