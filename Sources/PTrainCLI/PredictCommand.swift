import ArgumentParser
import Foundation
import PTrain
import PTrainData
import PTrainRuntime

/// `ptrain predict CONFIG --checkpoint W IMAGE...`: the most probable classes
/// of each image, with the config's evaluation transforms.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify image files (JPEG, PNG) with saved weights: the top classes and their probabilities.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Weights: a safetensors file (last.safetensors, best.safetensors) or a checkpoint directory. Repeat for an ensemble (probabilities averaged).")
    var checkpoint: [String]

    @Argument(help: "Image files to classify.")
    var images: [String]

    @Option(help: "How many classes to list per image.")
    var top = 5

    @Flag(help: "Average each image's ten crops (corners and centre, mirrored).")
    var tenCrop = false

    @Flag(help: "Print one JSON object per image instead of text.")
    var json = false

    @Option(help: "Class names, one per line in label order (default: classes.txt beside the checkpoint's run, else the dataset's class folders, else the label numbers).")
    var classes: String?

    func validate() throws {
        guard !checkpoint.isEmpty else { throw ValidationError("--checkpoint: at least one is needed") }
        guard !images.isEmpty else { throw ValidationError("IMAGE: at least one image file is needed") }
        guard top >= 1 else { throw ValidationError("--top: expected 1 or more, found \(top)") }
    }

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            let model = try config.model.build()
            guard model.loss == .softmaxCrossEntropy else {
                throw RunError("\(options.config): predict needs a softmax classifier; this model's loss is \(model.loss)")
            }
            let outputs = model.outputShape.count
            let names = try classNames(outputs: outputs, config: config)
            let set = try PredictionImages.set(images, config: config.data, model: config.model)
            let networks = try loadNetworks(config, checkpoints: checkpoint, classes: outputs)
            let probabilities = Evaluator.probabilities(networks, on: set, tenCrop: tenCrop)
            if let error = set.failures.error { throw error }
            for (path, p) in zip(images, probabilities) {
                let best = p.indices.sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }.prefix(top)
                if json {
                    let entries = best.map { "{\"class\": \(jsonString(names[$0])), \"label\": \($0), \"probability\": \(String(format: "%.6f", p[$0]))}" }
                    say("{\"image\": \(jsonString(path)), \"top\": [\(entries.joined(separator: ", "))]}")
                } else {
                    say("\(path): " + best.map { String(format: "%@ %.2f%%", names[$0], 100 * p[$0]) }.joined(separator: ", "))
                }
            }
        }
    }

    /// `--classes`, else those a checkpoint directory records, else
    /// RUN/classes.txt of a checkpoint in RUN/checkpoints/, else the
    /// dataset's; must name every output.
    private func classNames(outputs: Int, config: RunConfig) throws -> [String] {
        var isDirectory: ObjCBool = false
        if classes == nil, FileManager.default.fileExists(atPath: checkpoint[0], isDirectory: &isDirectory), isDirectory.boolValue,
           let names = try Checkpoint.read(URL(fileURLWithPath: checkpoint[0])).state.classNames, names.count == outputs {
            return names
        }
        let run = URL(fileURLWithPath: checkpoint[0]).standardizedFileURL.deletingLastPathComponent().deletingLastPathComponent()
        let file = classes ?? [run.appendingPathComponent("classes.txt").path].first { FileManager.default.fileExists(atPath: $0) }
        guard let file else { return try PredictionImages.classNames(config.data, classes: outputs) }
        let data: Data
        do { data = try RegularFile.read(file) } catch let e as RegularFile.ReadError { throw RunError(e.description) }
        let names = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init).filter { !$0.isEmpty }
        guard names.count == outputs else {
            throw RunError("\(file): expected \(outputs) class names (one per model output), found \(names.count)")
        }
        return names
    }
}

/// `s` as a JSON string literal.
private func jsonString(_ s: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [s])
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
}
