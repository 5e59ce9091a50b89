import Foundation
import PTrain

/// The splits of a run: training, the optional validation split that the
/// run's choices are made on, and the test split that is only reported.
public struct DataSplits: Sendable {
    public let train: SampleSet
    /// Where the best checkpoint, early stopping, `target_top1` and search
    /// metrics are measured when present (`data.validation`).
    public let validation: SampleSet?
    public let test: SampleSet
    /// The part of the training split a bilevel search steps the
    /// architecture on (`train.architecture.split`); `train` is the rest.
    public var architecture: SampleSet? = nil
    /// Class `i`'s name (folder names for image folders, else `"0"`, `"1"`, ...).
    public let classNames: [String]
}

/// Builds the `SampleSet`s a config asks for.
public enum DataSources {
    /// Loads (or, for `synthetic`, generates) the splits and checks them
    /// against the model: input shape and number of classes. `seed` draws
    /// the validation hold-out (`data.validation: FRACTION`).
    /// The splits a run config asks for, with the architecture half of a
    /// bilevel search (`train.architecture`) cut from the training split.
    public static func load(_ config: RunConfig,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DataSplits {
        try load(config.data, model: config.model, seed: config.seed, architectureSplit: config.train.architecture?.split,
                 environment: environment)
    }

    /// `architectureSplit`: the fraction of the training split (what
    /// `data.validation` leaves) held out, by the seed alone, for the
    /// architecture steps.
    public static func load(_ config: DataConfig, model: ModelSpec, seed: UInt64, architectureSplit: Double? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DataSplits {
        let sources = try self.sources(config, model: model, environment: environment)
        var trainPositions: [Int]? = nil, validation: (source: ImageSource, positions: [Int]?)? = nil
        switch config.validation {
        case .fraction(let f)?:
            let (kept, held) = holdOut(count: sources.train.count, fraction: f, seed: seed)
            guard !held.isEmpty && !kept.isEmpty else {
                throw ConfigError("data.validation: \(f) of \(sources.train.count) training samples leaves \(held.count) for validation and \(kept.count) for training; both need at least one")
            }
            trainPositions = kept
            validation = (sources.train, held)
        case .split?:
            validation = (sources.validation!, nil)
        case nil:
            break
        }
        var architecturePositions: [Int]? = nil
        if let f = architectureSplit {
            let pool = trainPositions ?? Array(0..<sources.train.count)
            let (kept, held) = holdOut(count: pool.count, fraction: f, seed: seed, stream: .architecture)
            guard !held.isEmpty && !kept.isEmpty else {
                throw ConfigError("train.architecture.split: \(f) of \(pool.count) training samples leaves \(held.count) for the architecture steps and \(kept.count) for the weights; both need at least one")
            }
            trainPositions = kept.map { pool[$0] }
            architecturePositions = held.map { pool[$0] }
        }
        let build = try SampleSetBuilder(config: config, model: model, train: sources.train, trainPositions: trainPositions)
        let train = try build.set(sources.train, positions: trainPositions, training: true)
        let architecture = try architecturePositions.map { try build.set(sources.train, positions: $0, training: true) }
        let test = try build.set(sources.test, positions: nil, training: false)
        let valid = try validation.map { try build.set($0.source, positions: $0.positions, training: false) }
        if train.shape != model.inputShape {
            throw ConfigError("model.input: the model takes \(model.inputShape) samples but \(train.name) gives \(train.shape) (\(build.describe(sources.train)))")
        }
        if let t = config.binaryTarget, t >= sources.train.classes {
            throw ConfigError("data.binary_target: class \(t) does not exist in \(config.dataset) (classes 0..\(sources.train.classes - 1))")
        }
        var splits = DataSplits(train: train, validation: valid, test: test, classNames: sources.classNames)
        splits.architecture = architecture
        return splits
    }

    /// Splits `0..<count` into kept and held-out source indices, each in
    /// ascending order: `round(fraction * count)` held out, chosen by a
    /// permutation keyed by `seed` alone (the same split for every worker
    /// count, every resume, every epoch).
    public static func holdOut(count: Int, fraction: Double, seed: UInt64,
                               stream: RandomStream = .validation) -> (kept: [Int], held: [Int]) {
        let held = Int((fraction * Double(count)).rounded())
        var rng = CounterRNG(seed: seed, stream: stream)
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        return (order[held...].sorted(), order[..<held].sorted())
    }

    /// Bytes the splits take in memory once loaded, from the config alone
    /// (for the memory estimate, before anything is read): one byte per
    /// pixel and two per label in memory; about 256 bytes per image (its
    /// path and label) for image folders, counted when the folder is listed.
    public static func residentBytes(_ config: DataConfig, model: ModelSpec) -> Int {
        if config.dataset == .folder { return 0 }
        guard let kind = DatasetKind(config.dataset) else { return 2 * config.syntheticCount * (model.inputShape.count + 2) }
        let counts = kind.imageCounts
        return (counts.train + counts.test) * (kind.pixelsPerImage + 2)
    }

    /// The image sources of each split, before hold-outs and transforms.
    struct Sources {
        var train: ImageSource, validation: ImageSource?, test: ImageSource
        var classNames: [String]
    }

    static func sources(_ config: DataConfig, model: ModelSpec, environment: [String: String]) throws -> Sources {
        if config.dataset == .folder { return try folderSources(config) }
        let train: ImageSet, test: ImageSet
        if let kind = DatasetKind(config.dataset) {
            let dir = try DatasetLocator.directory(for: kind, configuredPath: config.path, environment: environment)
            train = try DatasetLoader.load(kind, split: .train, directory: dir, labels: config.labelSet)
            test = try DatasetLoader.load(kind, split: .test, directory: dir, labels: config.labelSet)
        } else {
            train = try SyntheticImages.make(name: "synthetic/train", shape: model.inputShape, count: config.syntheticCount,
                                             classes: config.syntheticClasses, seed: 1)
            test = try SyntheticImages.make(name: "synthetic/test", shape: model.inputShape, count: config.syntheticCount,
                                            classes: config.syntheticClasses, seed: 2)
        }
        return Sources(train: .memory(train), validation: nil, test: .memory(test),
                       classNames: (0..<train.classes).map(String.init))
    }

    /// `data.path/train`, the validation split if named, and `test` (or,
    /// when there is no `test` and `val` is not the validation split, `val`).
    static func folderSources(_ config: DataConfig) throws -> Sources {
        let root = URL(fileURLWithPath: (config.path! as NSString).expandingTildeInPath).standardizedFileURL
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError("\(root.path): data.path of a folder dataset must be a folder holding train/ and test/ (or val/); \(FileManager.default.fileExists(atPath: root.path) ? "it is not a folder" : "it does not exist")")
        }
        let name = root.lastPathComponent
        let train = try ImageFileList.read(root: root, split: "train", name: name)
        var validation: ImageFileList? = nil
        if case .split(let split)? = config.validation {
            validation = try ImageFileList.read(root: root, split: split, name: name)
        }
        let testSplit = ImageFileList.exists(root: root, split: "test") || validation?.name == "\(name)/val" ? "test" : "val"
        let test = try ImageFileList.read(root: root, split: testSplit, name: name)
        var classNames = train.classNames
        for other in [validation, test].compactMap({ $0 }) {
            if other.isListFile || train.isListFile {
                // Label numbers: a class may occur in one split only.
                if other.classNames.count > classNames.count { classNames = other.classNames }
            } else if classNames != other.classNames {
                let extra = other.classNames.filter { !classNames.contains($0) }, lacking = classNames.filter { !other.classNames.contains($0) }
                let what = (extra.isEmpty ? [] : ["\(extra.prefix(5).joined(separator: ", ")) not in \(train.name)"])
                    + (lacking.isEmpty ? [] : ["no \(lacking.prefix(5).joined(separator: ", "))"])
                throw DataError("\(other.name): its classes differ from \(train.name)'s: \(what.joined(separator: "; ")); every split needs the same class folders")
            }
        }
        let c = config.channels
        func source(_ list: ImageFileList) -> ImageSource {
            .files(ImageFileList(name: list.name, paths: list.paths, labels: list.labels, classNames: classNames), channels: c)
        }
        return Sources(train: source(train), validation: validation.map(source), test: source(test), classNames: classNames)
    }
}

extension DataSources {
    /// The files `load` reads for `config` (both splits, each file once), for
    /// the run's provenance record; none for `synthetic` and image folders
    /// (whose files are too many to checksum at start-up).
    public static func files(_ config: DataConfig,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [URL] {
        guard let kind = DatasetKind(config.dataset) else { return [] }
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
