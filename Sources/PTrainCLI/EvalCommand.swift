import ArgumentParser
import Foundation
import PTrain
import PTrainData
import PTrainRuntime

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate saved weights on the config's test split.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Weights to evaluate: a safetensors file (last.safetensors, best.safetensors) or a checkpoint directory. Repeat to evaluate an ensemble (probabilities averaged).")
    var checkpoint: [String]

    @Flag(help: "Average each test image's ten crops (corners and centre, mirrored), as well as the models.")
    var tenCrop = false

    @Option(help: "Also write the first model's outputs (logits) on each test sample's single view (the centre crop, also with --ten-crop), one CSV row per sample, to this file.")
    var logits: String?

    func validate() throws {
        guard !checkpoint.isEmpty else { throw ValidationError("--checkpoint: at least one is needed") }
    }

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
            let networks = try loadNetworks(config, checkpoints: checkpoint, classes: data.test.classes)
            if let logits {
                let rows = modelOutputs(networks[0], on: data.test)
                let text = rows.map { $0.map { String(format: "%.9g", $0) }.joined(separator: ",") }.joined(separator: "\n")
                try AtomicFile.write(text + "\n", to: URL(fileURLWithPath: logits))
            }
            let r = Evaluator.evaluate(networks, on: data.test, tenCrop: tenCrop)
            let what = checkpoint.count == 1 ? checkpoint[0] : "ensemble of \(checkpoint.count)"
            say(String(format: "%@%@: test loss %.4f  top-1 %.2f%%%@  (%d samples)", what, tenCrop ? " (ten-crop)" : "", r.loss,
                       100 * r.top1, r.top5.isNaN ? "" : String(format: "  top-5 %.2f%%", 100 * r.top5), r.count))
        }
    }

}
