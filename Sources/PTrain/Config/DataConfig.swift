import Yams

/// `data:` — where samples come from and how they are scaled.
public struct DataConfig: Sendable {
    /// Datasets a config may name (`data.dataset`). Readers live in PTrainData.
    public enum Dataset: String, ConfigOption {
        case mnist
        case fashionMNIST = "fashion-mnist"
        case digits
        case cifar10 = "cifar-10"
        /// CIFAR-100 binary version (`data.labels`: fine or coarse classes).
        case cifar100 = "cifar-100"
        /// The user's own images: `data.path` holds `train/CLASS/*.jpg|png`
        /// (or a list file `train.txt`), and `test/` or `val/` likewise.
        case folder
        /// Random images of the model's input shape (no files).
        case synthetic
    }

    /// Test-time views for the final evaluation.
    public enum EvalViews: String, ConfigOption {
        /// The centre crop only.
        case center
        /// Corners and centre, each mirrored; softmax probabilities averaged.
        case tenCrop = "ten_crop"
    }

    /// What a bad image file (corrupt, truncated, not an image) does.
    public enum BadImagePolicy: String, ConfigOption {
        /// Stop the run with one error naming the file (nothing else is lost).
        case error
        /// Use the next good image of the split instead; counted per epoch.
        case skip
    }

    /// Which CIFAR-100 labels are the classes.
    public enum LabelSet: String, ConfigOption {
        /// The 100 classes.
        case fine
        /// The 20 superclasses.
        case coarse
    }

    /// `data.validation`: where the choices of a run (best checkpoint, early
    /// stopping, `target_top1`, search metrics) are evaluated.
    public enum Validation: Equatable, Sendable, CustomStringConvertible {
        /// This fraction of the training split, held out by the seed.
        case fraction(Double)
        /// A split of the folder dataset (`val`): its own folder.
        case split(String)

        /// As written in the config: `0.1`, `val`.
        public var description: String {
            switch self {
            case .fraction(let f): "\(f)"
            case .split(let name): name
            }
        }
    }

    public var dataset: Dataset
    /// Dataset directory; when absent, `$PTRAIN_DATA/<dataset folder>`.
    public var path: String?
    /// Per-channel normalisation applied to pixels scaled to [0, 1]: `(x - mean) / std`.
    public var mean: [Float]
    public var std: [Float]
    /// Binary tasks: the label becomes 1 for this class, 0 for every other.
    public var binaryTarget: Int?
    /// Use only the first N samples of a split (quick runs, tests).
    public var trainLimit: Int?
    public var testLimit: Int?
    /// Synthetic source: samples per split and classes (shape = model input).
    public var syntheticCount: Int
    public var syntheticClasses: Int
    /// Model inputs are `crop` x `crop` cuts of the images (nil: whole images).
    public var crop: Int?
    /// Training augmentation (`data.augment`), in the order written; each
    /// operation at most once.
    public var augment: [AugmentationOperation]
    /// Test-time views: `center`, or `ten_crop`, reported next to the centre crop's.
    public var evalViews: EvalViews
    /// The validation split (nil: none; choices then use the test split).
    public var validation: Validation?
    /// Bad image files: stop (`error`) or skip them.
    public var onBadImage: BadImagePolicy
    /// CIFAR-100: fine (100) or coarse (20) classes.
    public var labelSet: LabelSet
    /// Folder datasets: images are decoded to this many channels (3 RGB, 1 gray).
    public var channels: Int
    /// Per-sample transforms of training / evaluation images, in the order
    /// written (`data.transforms`, `data.eval_transforms`; replace crop and augment).
    public var transforms: [TransformOperation] = []
    public var evalTransforms: [TransformOperation] = []

    /// Random crops are on (`random_crop` listed).
    public var randomCrop: Bool { augment.contains { if case .randomCrop = $0 { true } else { false } } }
    /// Zero padding around the image before a random crop, in pixels (0 when off).
    public var cropPadding: Int { augment.lazy.compactMap { if case .randomCrop(let p) = $0 { p } else { nil } }.first ?? 0 }
    /// Random horizontal flips are on (`flip` listed).
    public var flip: Bool { augment.contains(.flip) }
    /// Standard deviation of the PCA lighting noise (0 when off).
    public var lightingStd: Double { augment.lazy.compactMap { if case .lighting(let s) = $0 { s } else { nil } }.first ?? 0 }
}

/// One entry of `data.augment`.
public enum AugmentationOperation: Equatable, Sendable {
    /// Pad by `padding` zero pixels on every side, then cut a random crop of the input size.
    case randomCrop(padding: Int)
    /// Mirror horizontally with probability 1/2.
    case flip
    /// AlexNet's PCA lighting noise with this standard deviation (RGB only).
    case lighting(alphaStd: Double)

    /// The `type:` spellings.
    public enum Kind: String, ConfigOption {
        case randomCrop = "random_crop", flip, lighting
    }

    public var kind: Kind {
        switch self {
        case .randomCrop: .randomCrop
        case .flip: .flip
        case .lighting: .lighting
        }
    }
}

extension DataConfig {
    /// Decodes the `data:` section (keys documented in README "Config format").
    public static func decode(_ d: ConfigMapping) throws -> DataConfig {
        let dataset: Dataset = try d.option("dataset")
        let path = try d.optionalString("path")
        let n = try d.mapping("normalize")
        let mean = try n.doubles("mean", -1e6...1e6)?.map(Float.init) ?? []
        let std = try n.doubles("std", 1e-12...1e6, count: mean.isEmpty ? nil : mean.count)?.map(Float.init) ?? []
        if mean.count != std.count {
            throw (n.optional("mean") ?? n.value).error("normalize needs both mean and std, one value per channel")
        }
        try n.finish()
        let binaryTarget = try d.optionalInt("binary_target", 0...1000)
        let trainLimit = try d.optionalInt("train_limit", 1...)
        let testLimit = try d.optionalInt("test_limit", 1...)
        let syntheticCount = try d.int("synthetic_count", default: 1024, 1...)
        let syntheticClasses = try d.int("synthetic_classes", default: 10, 2...65_536)
        let crop = try d.optionalInt("crop", 1...100_000)
        let augment = try decodeAugment(d)
        let evalViews: EvalViews = try d.option("eval_views", default: .center)
        let validation = try decodeValidation(d, dataset: dataset)
        let onBadImage: BadImagePolicy = try d.option("on_bad_image", default: .error)
        // Keys of one dataset kind only (recorded only there, so the resolved config decodes again).
        if dataset != .cifar100, let at = d.optional("labels") {
            throw at.error("labels chooses CIFAR-100's fine or coarse classes; data.dataset is \(dataset)")
        }
        let labelSet: LabelSet = dataset == .cifar100 ? try d.option("labels", default: .fine) : .fine
        if dataset != .folder, let at = d.optional("channels") {
            throw at.error("channels applies to folder datasets; \(dataset) has its own")
        }
        let channels = dataset == .folder ? try d.int("channels", default: 3, 1...3) : 3
        if channels == 2, let at = d.optional("channels") { throw at.error("expected 1 (gray) or 3 (RGB), found 2") }
        if dataset == .folder && path == nil {
            throw d.value.error("dataset folder needs path: the folder holding train/ and test/ (or val/)")
        }
        let transforms = try decodeTransforms(d, crop: crop, augment: augment, evalViews: evalViews)
        try d.finish()
        return DataConfig(dataset: dataset, path: path, mean: mean, std: std, binaryTarget: binaryTarget,
                          trainLimit: trainLimit, testLimit: testLimit,
                          syntheticCount: syntheticCount, syntheticClasses: syntheticClasses,
                          crop: crop, augment: augment, evalViews: evalViews, validation: validation,
                          onBadImage: onBadImage, labelSet: labelSet, channels: channels,
                          transforms: transforms.train, evalTransforms: transforms.eval)
    }

    /// `validation: 0.1` (a fraction of the training split, 0 < f < 1) or
    /// `validation: val` (a named split; folder datasets only).
    private static func decodeValidation(_ d: ConfigMapping, dataset: Dataset) throws -> Validation? {
        guard let v = d.optional("validation") else { return nil }
        if let text = v.plainScalar, let f = Double(text) {
            guard f > 0 && f < 1 else { throw v.error("expected a fraction of the training split between 0 and 1 (exclusive), or a split name such as val; found \(f)") }
            d.record("validation", v.node)
            return .fraction(f)
        }
        let name = try v.string()
        guard dataset == .folder else {
            throw v.error("a named validation split needs dataset folder; for \(dataset) give a fraction of the training split, e.g. 0.1")
        }
        guard !name.isEmpty, !name.contains("/"), name != "train", name != "test", !name.hasPrefix(".") else {
            throw v.error("expected a split folder name other than train and test (e.g. val) or a fraction, found '\(name)'")
        }
        d.record("validation", v.node)
        return .split(name)
    }

    /// `augment: [{type: random_crop, padding: P}, {type: flip}, {type: lighting, alphastd: S}]`.
    private static func decodeAugment(_ d: ConfigMapping) throws -> [AugmentationOperation] {
        guard let augment = d.optional("augment") else { return [] }
        var operations: [AugmentationOperation] = []
        for item in try augment.sequence() {
            let op = try item.mapping()
            let kind: AugmentationOperation.Kind = try op.option("type")
            guard !operations.contains(where: { $0.kind == kind }) else {
                throw op.value.error("augmentation '\(kind)' is listed twice")
            }
            switch kind {
            case .randomCrop: operations.append(.randomCrop(padding: try op.int("padding", default: 0, 0...1000)))
            case .flip: operations.append(.flip)
            case .lighting: operations.append(.lighting(alphaStd: try op.double("alphastd", default: 0.1, 0...10)))
            }
            try op.finish()
        }
        d.record("augment", augment.node)
        return operations
    }

    /// The per-channel mean and std must have one value per model input
    /// channel; the error points at `normalize.mean` in `d` (the `data:` mapping).
    func checkChannels(of model: ModelSpec, in d: ConfigMapping) throws {
        guard !mean.isEmpty, mean.count != model.inputShape.channels else { return }
        // `mean` is non-empty, so `normalize.mean` is there to point at.
        let at = try d.optional("normalize")?.mapping().optional("mean") ?? d.value
        throw at.error("expected \(model.inputShape.channels) per-channel values (the model input has \(model.inputShape.channels) channels), found \(mean.count)")
    }
}
