import Foundation
import PTrain

/// Builds the train and test `SampleSet`s a config asks for.
public enum DataSources {
    /// Loads (or, for `synthetic`, generates) both splits and checks them
    /// against the model: input shape and number of classes.
    public static func load(_ config: DataConfig, model: ModelSpec,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (train: SampleSet, test: SampleSet) {
        let train: ImageSet, test: ImageSet
        if config.dataset == "synthetic" {
            train = try SyntheticImages.make(name: "synthetic/train", shape: model.inputShape, count: config.syntheticCount,
                                         classes: config.syntheticClasses, seed: 1)
            test = try SyntheticImages.make(name: "synthetic/test", shape: model.inputShape, count: config.syntheticCount,
                                        classes: config.syntheticClasses, seed: 2)
        } else {
            guard let kind = DatasetKind(rawValue: config.dataset) else {
                throw DataError("data.dataset: no reader for '\(config.dataset)'")
            }
            let dir = try DatasetLocator.directory(for: kind, configuredPath: config.path, environment: environment)
            train = try DatasetLoader.load(kind, split: .train, directory: dir)
            test = try DatasetLoader.load(kind, split: .test, directory: dir)
        }
        let a = SampleSet(images: train, mean: config.mean, std: config.std, binaryTarget: config.binaryTarget, limit: config.trainLimit)
        let b = SampleSet(images: test, mean: config.mean, std: config.std, binaryTarget: config.binaryTarget, limit: config.testLimit)
        if a.shape != model.inputShape {
            throw ConfigError("model.input: the model takes \(model.inputShape) samples but \(train.name) has \(a.shape) images")
        }
        if let t = config.binaryTarget, t >= train.classes {
            throw ConfigError("data.binary_target: class \(t) does not exist in \(config.dataset) (classes 0..\(train.classes - 1))")
        }
        return (a, b)
    }
}

/// Random images and labels of a given shape, for benchmarks that need no
/// files. Deterministic in (seed, index).
public enum SyntheticImages {
    public static func make(name: String, shape: TensorShape, count: Int, classes: Int, seed: UInt64) throws -> ImageSet {
        var rng = CounterRNG(seed: seed, stream: .synthetic)
        let pixels = (0..<(count * shape.count)).map { _ in UInt8(truncatingIfNeeded: rng.next() >> 56) }
        let labels = (0..<count).map { _ in UInt8(rng.below(classes)) }
        return try ImageSet(name: name, count: count, channels: shape.channels, height: shape.height, width: shape.width,
                        pixels: pixels, labels: labels, maxPixelValue: 255, classes: classes)
    }
}
