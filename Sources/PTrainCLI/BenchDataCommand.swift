import ArgumentParser
import Foundation
import PTrain
import PTrainData
import PTrainExperiments

/// `ptrain bench-data CONFIG`: the input pipeline's images/s without a model.
struct BenchDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data",
        abstract: "Measure the input pipeline alone: training images read, decoded and transformed per second, per thread.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Threads filling batches (each with its own buffers, as workers do).")
    var threads = 1

    @Option(help: "Samples per round (at most the training split).")
    var samples = 2_000

    @Option(help: "Rounds (the median is reported); round r uses epoch r's order and draws.")
    var rounds = 5

    @Flag(help: "Print one JSON object (img_s, img_s_per_thread, rounds, threads, samples, rss_mb).")
    var json = false

    func validate() throws {
        guard threads >= 1, samples >= 1, rounds >= 1 else { throw ValidationError("--threads, --samples and --rounds must be >= 1") }
    }

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
            let r = try DataBenchmark(threads: threads, batch: config.runtime.shard, samples: samples, rounds: rounds)
                .run(data.train, seed: config.seed)
            if json {
                let rounds = r.imagesPerSecond.map { String(format: "%.1f", $0) }.joined(separator: ", ")
                say(String(format: "{\"img_s\": %.1f, \"img_s_per_thread\": %.1f, \"rounds\": [%@], \"threads\": %d, \"samples\": %d, \"rss_mb\": %.1f, \"skipped\": %d}",
                           r.median, r.perThread, rounds, r.threads, r.samples, r.rssMB, r.skipped))
            } else {
                say(String(format: "%@: %d samples of %@ x %d rounds on %d thread%@: median %.0f img/s (%.0f per thread); peak RSS %.0f MB%@",
                           data.train.name, r.samples, "\(data.train.shape)", rounds, threads, threads == 1 ? "" : "s", r.median,
                           r.perThread, r.rssMB, r.skipped > 0 ? ", \(r.skipped) bad images skipped" : ""))
            }
        }
    }
}
