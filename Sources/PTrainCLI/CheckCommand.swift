import ArgumentParser
import PTrain
import PTrainRuntime

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a config (keys, types, model shapes, memory) without running it.")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print the config as resolved (inheritance and --set applied, every default filled in) instead of the summary.")
    var resolved = false

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            if resolved {
                print(config.resolvedYAML, terminator: "")
                return
            }
            let model = try config.model.build()
            let estimate = MemoryEstimate(config: config, model: model, workers: try WorkerPlacement.plan(config.runtime).workers)
            let limit = MemoryLimit.current()
            try estimate.check(against: limit, file: options.config)
            say("\(options.config): ok (\(config.name): \(model.layers.count) layers, \(grouped(model.parameterCount)) parameters)")
            say("memory: needs \(MemoryEstimate.format(estimate.total)) (\(estimate.parts))"
                + (limit.map { " of \(MemoryEstimate.format($0.bytes)) (\($0.source))" } ?? ""))
        }
    }
}
