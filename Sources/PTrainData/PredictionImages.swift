import Foundation
import PTrain

/// Image files given on the command line (`ptrain predict`), made into a
/// sample set that treats them as the config's evaluation images: decoded
/// to the model's channels and put through `data.eval_transforms`
/// (or, for configs of the built-in datasets, the centre `data.crop`).
public enum PredictionImages {
    public static func set(_ paths: [String], config: DataConfig, model: ModelSpec) throws -> SampleSet {
        let input = model.inputShape
        let list = ImageFileList(name: "predict", paths: paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                                 labels: [UInt16](repeating: 0, count: paths.count), classNames: ["?"])
        let operations: [TransformOperation] = config.evalTransforms.isEmpty
            ? config.crop.map { [.centerCrop(height: $0, width: $0)] } ?? [] : config.evalTransforms
        let chain = TransformChain(operations, mean: config.mean, std: config.std, lighting: nil)
        let set = SampleSet(source: .files(list, channels: input.channels), chain: chain, shape: input,
                            binaryTarget: nil, limit: nil, onBadImage: .error)
        // Every image must come out at the model's input size.
        let scratch = SampleScratch()
        for path in list.paths {
            let image = try scratch.decoder.decodeFile(path, channels: input.channels,
                                                       minimumShorterSide: chain.decodeShorterSide)
            let size = chain.outputSize(input: (image.height, image.width))
            guard size == (input.height, input.width) else {
                let how = config.evalTransforms.isEmpty ? "this config has no data.eval_transforms to resize it" : "data.eval_transforms gives \(size.height)x\(size.width)"
                throw DataError("\(path): a \(image.width)x\(image.height) image (width x height); the model takes \(input.height)x\(input.width) inputs and \(how)")
            }
        }
        return set
    }

    /// The class names of `config`'s dataset, in label order: the class
    /// folders of a folder dataset's training split, else the label numbers.
    public static func classNames(_ config: DataConfig, classes: Int) throws -> [String] {
        if config.dataset == .folder, let path = config.path {
            let root = URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL
            return try ImageFileList.read(root: root, split: "train", name: root.lastPathComponent).classNames
        }
        return (0..<classes).map(String.init)
    }
}
