import Foundation
import PTrain
import PTrainRuntime

/// Evaluation networks of `config`'s model, one per weights file or
/// checkpoint directory in `checkpoints`, with `classes` outputs, computing
/// in the config's `runtime.precision` (as the run's own evaluations did;
/// bf16 refused on a CPU without it). Weights that are not finite are
/// refused: they have no accuracy or prediction to report.
func loadNetworks(_ config: RunConfig, checkpoints: [String], classes: Int) throws -> [Network] {
    try PrecisionCheck.check(config.runtime.precision)
    return try checkpoints.map { path in
        let model = try config.model.build(classes: classes)
        let parameters = FloatBuffer(count: model.layout.totalCount)
        let file = try weightsFile(path)
        let decoded = try Safetensors.decode(try RegularFile.read(file.path), file: file.path)
        try model.layout.load(decoded.tensors, into: parameters.pointer, file: file.path)
        if let tensor = model.layout.firstNonFiniteTensor(in: parameters) {
            throw RunError("\(path): the weights are not finite: first non-finite value in \(tensor)")
        }
        // Prepared inference weights as the run's evaluations had them, so
        // the same weights give the same numbers here (Evaluator prepares them).
        return Network(model: model, maxBatch: config.train.evalBatch, parameters: parameters, gradients: nil, seed: config.seed,
                       precision: config.runtime.precision,
                       inferenceWeights: InferenceWeights(model: model, parameters: parameters))
    }
}

/// The safetensors file of a checkpoint argument: a checkpoint directory's
/// weights (verified), or else the path itself (whose reading refuses
/// anything but a regular file).
func weightsFile(_ path: String) throws -> URL {
    let url = URL(fileURLWithPath: path)
    var isDirectory: ObjCBool = false
    let isCheckpoint = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    return isCheckpoint ? try Checkpoint.read(url).weightsURL(in: url) : url
}
