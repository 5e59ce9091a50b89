import ArgumentParser
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainRuntime

struct ScaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Measure training throughput at several worker counts (interleaved rounds, contended samples marked); writes scale.csv, scale.jsonl and scale.svg. Under mpirun the counts are per process and the cross-process sum is timed separately.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Comma-separated worker counts, e.g. 1,2 (the first is the baseline).")
    var workers: String = "1,2"

    @Option(help: "strong: same global batch at every count; weak: batch multiplied by the worker count.")
    var mode: String = "strong"

    @Option(help: "Training steps per sample.")
    var steps: Int = 50

    @Option(help: "Interleaved rounds (samples per worker count).")
    var rounds: Int = 5

    @Option(help: "Warm-up steps per worker count before measuring.")
    var warmup: Int = 10

    @Option(help: "Pin workers to cores (core) or not (none); overrides runtime.bind.")
    var bind: String?

    @Option(help: "Directory for the results (default: runs/NAME-scale, or -2, ...).")
    var out: String?

    @Flag(help: "Print the summary as JSON lines {\"workers\",\"img_s\",\"speedup\",\"efficiency\"} instead of a table, after a first line {\"environment\":{...}}.")
    var json = false

    func validate() throws {
        guard Self.parseCounts(workers) != nil else { throw ValidationError("--workers: expected comma-separated positive integers such as 1,2, found '\(workers)'") }
        guard ScaleExperiment.Mode(rawValue: mode) != nil else { throw ValidationError("--mode: expected strong or weak, found '\(mode)'") }
        guard steps >= 1, rounds >= 1, warmup >= 0 else { throw ValidationError("--steps and --rounds must be >= 1, --warmup >= 0") }
    }

    static func parseCounts(_ text: String) -> [Int]? {
        let counts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        return counts.map { $0! }
    }

    func run() throws {
        let group = try reportingErrors { try Launch.processGroup() }
        try reportingErrors(in: group) { try execute(group: group) }
        Launch.finish(group)
    }

    /// Under mpirun every rank runs the same rounds; rank 0 prints and writes.
    private func execute(group: ProcessGroup) throws {
        let lead = group.rank == 0
        let config = try options.load(extra: bind.map { ["runtime.bind=\($0)"] } ?? [])
        let data = try DataSources.load(config)
        let directory = lead ? try RunDirectory.create(explicit: out, name: "\(config.name)-scale") : nil
        let environment = lead ? try widestEnvironment(config) : nil
        let experiment = ScaleExperiment(workerCounts: Self.parseCounts(workers)!, mode: ScaleExperiment.Mode(rawValue: mode)!,
                                         steps: steps, rounds: rounds, warmupSteps: warmup)
        let quiet = json || !lead
        let log: (String) -> Void = { line in if !quiet { say(line) } }
        let runtime = config.runtime
        let placement: (Int) throws -> WorkerPlacement = { w in
            var r = runtime
            r.workers = w
            return try WorkerPlacement.plan(r)
        }
        let (samples, rows) = try experiment.run(config: config, train: data.train, test: data.test, architecture: data.architecture,
                                                 placement: placement, group: group, log: log)
        guard let directory, let environment else { return }
        let processes = group.size
        try AtomicFile.write(config.resolvedYAML, to: directory.config)
        try environment.write(into: directory.url)
        try AtomicFile.write(ScaleExperiment.csv(samples), to: directory.url.appendingPathComponent("scale.csv"))
        try AtomicFile.write(ScaleExperiment.jsonLines(rows, processes: processes), to: directory.url.appendingPathComponent("scale.jsonl"))
        try AtomicFile.write(ScaleExperiment.chart(rows, title: "\(config.name): \(mode) scaling" + (processes > 1 ? ", \(processes) processes" : "")),
                             to: directory.url.appendingPathComponent("scale.svg"))
        if json {
            say("{\"environment\":\(environment.compactJSON)}")
            say(ScaleExperiment.jsonLines(rows, processes: processes).trimmingCharacters(in: .newlines))
        } else {
            say(ScaleExperiment.table(rows, processes: processes))
            say("results: \(directory.url.path)/scale.{csv,jsonl,svg}, \(RunEnvironment.fileName)")
        }
    }

    /// The environment at the largest worker count: every smaller count's
    /// placement is a prefix of it.
    private func widestEnvironment(_ config: RunConfig) throws -> RunEnvironment {
        var widest = config.runtime
        widest.workers = Self.parseCounts(workers)!.max()
        let placement = try WorkerPlacement.plan(widest)
        return try RunEnvironment.capture(topology: placement.topology, placements: placement.placements, data: config.data)
    }
}
