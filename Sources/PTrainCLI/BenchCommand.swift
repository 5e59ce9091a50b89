import ArgumentParser
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainRuntime

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training and inference images/s, GFLOP/s against the machine's FMA peak, peak RSS, and per-layer times.")

    @OptionGroup var options: ConfigOptions

    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Training steps per timed block.")
    var steps: Int = 20

    @Option(help: "Timed blocks (the median is reported).")
    var blocks: Int = 5

    @Option(help: "Warm-up steps before timing.")
    var warmup: Int = 5

    @Flag(help: "Print one JSON object (train_img_s, infer_img_s, train_gflop_s, peak_gflop_s, rss_mb, layers, environment).")
    var json = false

    func validate() throws {
        guard steps >= 1, blocks >= 1, warmup >= 0 else { throw ValidationError("--steps and --blocks must be >= 1, --warmup >= 0") }
    }

    func run() throws {
        try reportingErrors { try execute() }
    }

    private func execute() throws {
        let config = try options.load(extra: runtime.overrides)
        let data = try DataSources.load(config)
        let placement = try WorkerPlacement.plan(config.runtime)
        let quiet = json
        let log: (String) -> Void = { line in if !quiet { say(line) } }
        log(placement.description)
        let report = try Benchmark(steps: steps, blocks: blocks, warmupSteps: warmup)
            .run(config: config, train: data.train, test: data.test, architecture: data.architecture, placement: placement, log: log)
        if json {
            let environment = try RunEnvironment.capture(topology: placement.topology, placements: placement.placements, data: config.data)
            say(Benchmark.json(report, environment: environment.compactJSON))
        } else {
            say(Benchmark.text(report, config: config))
        }
    }
}
