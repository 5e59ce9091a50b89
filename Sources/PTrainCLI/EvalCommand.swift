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

    @Option(help: "Also write the model's outputs (logits), one CSV row per test sample, to this file.")
    var logits: String?

    func validate() throws {
        guard !checkpoint.isEmpty else { throw ValidationError("--checkpoint: at least one is needed") }
    }

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
            var networks: [Network] = []
            for path in checkpoint {
                let model = try config.model.build(classes: data.test.classes)
                let parameters = FloatBuffer(count: model.layout.totalCount)
                let file = try weightsFile(path)
                let decoded = try Safetensors.decode(try RegularFile.read(file.path), file: file.path)
                try model.layout.load(decoded.tensors, into: parameters.pointer, file: file.path)
                // Refused rather than scored: broken weights have no accuracy to report.
                if let tensor = model.layout.firstNonFiniteTensor(in: parameters) {
                    throw RunError("\(path): the weights are not finite: first non-finite value in \(tensor)")
                }
                networks.append(Network(model: model, maxBatch: config.train.evalBatch, parameters: parameters,
                                        gradients: nil, seed: config.seed))
            }
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

    /// The safetensors file of a checkpoint argument: a checkpoint directory's
    /// weights (verified), or else the path itself (whose reading refuses
    /// anything but a regular file).
    private func weightsFile(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        let isCheckpoint = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        return isCheckpoint ? try Checkpoint.read(url).weightsURL(in: url) : url
    }
}
