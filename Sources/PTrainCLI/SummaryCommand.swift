import ArgumentParser
import PTrain
import PTrainRuntime

struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print the model's layer table: output shapes, parameters and forward FLOPs per sample.")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print one JSON object {\"params\", \"flops\", \"input\", \"layers\"} instead of the table.")
    var json = false

    func run() throws {
        try reportingErrors {
            let model = try options.load().model.build()
            let summary = ModelSummary(model: model)
            say(json ? summary.json : summary.table)
        }
    }
}
