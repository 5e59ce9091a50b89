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

    @Option(help: "Weights to evaluate: a safetensors file (last.safetensors, best.safetensors) or a checkpoint directory.")
    var checkpoint: String

    @Option(help: "Also write the model's outputs (logits), one CSV row per test sample, to this file.")
    var logits: String?

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            let data = try DataSources.load(config.data, model: config.model)
            let model = try config.model.build(classes: data.test.classes)
            let parameters = FloatBuffer(count: model.layout.totalCount)
            var file = URL(fileURLWithPath: checkpoint)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: checkpoint, isDirectory: &isDirectory), isDirectory.boolValue {
                file = try Checkpoint.read(file).weightsURL(in: file)
            }
            let bytes: Data
            do { bytes = try Data(contentsOf: file) } catch {
                throw RunError("\(checkpoint): cannot read the checkpoint (\(FileManager.default.fileExists(atPath: checkpoint) ? "unreadable" : "no such file"))")
            }
            let decoded = try Safetensors.decode(bytes, file: file.path)
            try model.layout.load(decoded.tensors, into: parameters.pointer, file: file.path)
            let network = Network(model: model, maxBatch: config.train.evalBatch, parameters: parameters,
                                  gradients: nil, seed: config.seed)
            var rows: [String] = []
            let width = model.outputShape.count
            let r = Evaluator.evaluate(network, on: data.test, outputs: logits == nil ? nil : { out, n in
                for i in 0..<n {
                    rows.append((0..<width).map { String(format: "%.9g", out[i * width + $0]) }.joined(separator: ","))
                }
            })
            if let logits { try AtomicFile.write(rows.joined(separator: "\n") + "\n", to: URL(fileURLWithPath: logits)) }
            say(String(format: "%@: test loss %.4f  top-1 %.2f%%  (%d samples)", checkpoint, r.loss, 100 * r.top1, r.count))
        }
    }
}
