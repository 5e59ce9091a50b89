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

    @Option(help: "Weights to evaluate (a .safetensors file written by ptrain train).")
    var checkpoint: String

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            let data = try DataSources.load(config.data, model: config.model)
            let model = try config.model.build(classes: data.test.classes)
            let parameters = FloatBuffer(count: model.layout.totalCount)
            let bytes: Data
            do { bytes = try Data(contentsOf: URL(fileURLWithPath: checkpoint)) } catch {
                throw RunError("\(checkpoint): cannot read the checkpoint (\(FileManager.default.fileExists(atPath: checkpoint) ? "unreadable" : "no such file"))")
            }
            let file = try Safetensors.decode(bytes, file: checkpoint)
            try model.layout.load(file.tensors, into: parameters.pointer, file: checkpoint)
            let network = Network(model: model, maxBatch: config.train.evalBatch, parameters: parameters,
                                  gradients: FloatBuffer(count: model.layout.totalCount), seed: config.seed)
            let r = Evaluator.evaluate(network, on: data.test)
            say(String(format: "%@: test loss %.4f  top-1 %.2f%%  (%d samples)", checkpoint, r.loss, 100 * r.top1, r.count))
        }
    }
}
