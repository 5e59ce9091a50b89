import Foundation
import PTrain

/// Builds the train and test `SampleSet`s a config asks for.
public enum DataSources {
    /// Loads (or, for `synthetic`, generates) both splits and checks them
    /// against the model: input shape and number of classes.
    public static func load(_ config: DataConfig, model: ModelSpec,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (train: SampleSet, test: SampleSet) {
        let train: ImageSet, test: ImageSet
        if let kind = DatasetKind(config.dataset) {
            let dir = try DatasetLocator.directory(for: kind, configuredPath: config.path, environment: environment)
            train = try DatasetLoader.load(kind, split: .train, directory: dir)
            test = try DatasetLoader.load(kind, split: .test, directory: dir)
        } else {
            train = try SyntheticImages.make(name: "synthetic/train", shape: model.inputShape, count: config.syntheticCount,
                                         classes: config.syntheticClasses, seed: 1)
            test = try SyntheticImages.make(name: "synthetic/test", shape: model.inputShape, count: config.syntheticCount,
                                        classes: config.syntheticClasses, seed: 2)
        }
        if let crop = config.crop, crop > train.height || crop > train.width {
            throw ConfigError("data.crop: \(crop)x\(crop) crops do not fit the \(train.height)x\(train.width) images of \(train.name)")
        }
        if config.lightingStd > 0 && train.channels != 3 {
            throw ConfigError("data.augment: lighting needs RGB images; \(train.name) has \(train.channels) channel(s)")
        }
        var augmentation: Augmentation? = nil
        if config.randomCrop || config.flip || config.lightingStd > 0 {
            augmentation = Augmentation(randomCrop: config.randomCrop, padding: config.cropPadding, flip: config.flip,
                                        lightingStd: Float(config.lightingStd),
                                        lighting: config.lightingStd > 0 ? PCALighting.fit(train) : nil)
        }
        let crop = config.crop.map { ($0, $0) }
        let a = SampleSet(images: train, mean: config.mean, std: config.std, binaryTarget: config.binaryTarget,
                          limit: config.trainLimit, crop: crop, augmentation: augmentation)
        let b = SampleSet(images: test, mean: config.mean, std: config.std, binaryTarget: config.binaryTarget,
                          limit: config.testLimit, crop: crop)
        if a.shape != model.inputShape {
            throw ConfigError("model.input: the model takes \(model.inputShape) samples but \(train.name) gives \(a.shape) (images \(train.channels)x\(train.height)x\(train.width)\(config.crop.map { ", crop \($0)" } ?? ""))")
        }
        if let t = config.binaryTarget, t >= train.classes {
            throw ConfigError("data.binary_target: class \(t) does not exist in \(config.dataset) (classes 0..\(train.classes - 1))")
        }
        return (a, b)
    }

    /// Bytes both splits take in memory once loaded (`ImageSet`: one byte
    /// per pixel, two per label), from the config alone: for the memory
    /// estimate, before anything is read.
    public static func residentBytes(_ config: DataConfig, model: ModelSpec) -> Int {
        guard let kind = DatasetKind(config.dataset) else { return 2 * config.syntheticCount * (model.inputShape.count + 2) }
        let counts = kind.imageCounts
        return (counts.train + counts.test) * (kind.pixelsPerImage + 2)
    }
}

extension DataSources {
    /// The files `load` reads for `config` (both splits, each file once), for
    /// the run's provenance record; none for `synthetic`.
    public static func files(_ config: DataConfig,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [URL] {
        guard let kind = DatasetKind(config.dataset) else { return [] }  // synthetic
        let dir = try DatasetLocator.directory(for: kind, configuredPath: config.path, environment: environment)
        var seen = Set<URL>()
        return try DatasetSplit.allCases.flatMap { try DatasetLoader.files(kind, split: $0, directory: dir) }.filter { seen.insert($0).inserted }
    }
}

/// Random images and labels of a given shape, for benchmarks that need no
/// files. Deterministic in (seed, index).
public enum SyntheticImages {
    public static func make(name: String, shape: TensorShape, count: Int, classes: Int, seed: UInt64) throws -> ImageSet {
        var rng = CounterRNG(seed: seed, stream: .synthetic)
        let pixels = (0..<(count * shape.count)).map { _ in UInt8(truncatingIfNeeded: rng.next() >> 56) }
        let labels = (0..<count).map { _ in UInt16(rng.below(classes)) }
        return ImageSet(name: name, count: count, channels: shape.channels, height: shape.height, width: shape.width,
                        pixels: pixels, labels: labels, maxPixelValue: 255, classes: classes)
    }
}
