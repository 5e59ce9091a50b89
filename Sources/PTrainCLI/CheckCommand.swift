import ArgumentParser
import PTrain
import PTrainRuntime

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a config (keys, types, model shapes) without running it.")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            let model = try config.model.build()
            say("\(options.config): ok (\(config.name): \(model.layers.count) layers, \(grouped(model.parameterCount)) parameters)")
        }
    }
}
