import PTrain

/// Turns the image sources of a run into `SampleSet`s: on the transform
/// chain path when `data.transforms` is given (required for image files),
/// else on the fused path of `data.crop` / `data.augment`.
struct SampleSetBuilder {
    let config: DataConfig
    /// Chain path: training and evaluation chains (nil: the fused path).
    let trainChain: TransformChain?, evalChain: TransformChain?
    /// Fused path: the crop size and the training augmentation.
    let crop: (Int, Int)?
    let augmentation: Augmentation?
    /// The model's input (for messages).
    let input: TensorShape

    /// Images sampled to fit the PCA lighting of a folder dataset.
    static let lightingSample = 1_000

    init(config: DataConfig, model: ModelSpec, train: ImageSource, trainPositions: [Int]?) throws {
        self.config = config
        input = model.inputShape
        if !config.transforms.isEmpty || !config.evalTransforms.isEmpty {
            let operations = config.transforms + config.evalTransforms
            if operations.contains(where: { $0.kind == .lighting }) && train.channels != 3 {
                throw ConfigError("data.transforms: lighting needs RGB images; \(train.name) has \(train.channels) channel(s)")
            }
            var lighting: PCALighting? = nil
            if operations.contains(where: \.needsFittedLighting) {
                // Evenly spaced over the (kept) training images, decoded small.
                let n = trainPositions?.count ?? train.count, k = min(n, Self.lightingSample)
                let picks = (0..<k).map { j in trainPositions?[j * n / k] ?? j * n / k }
                lighting = try PCALighting.fit(train, indices: picks, decodeShorterSide: 64, scratch: SampleScratch(),
                                               skipBad: config.onBadImage == .skip)
            }
            trainChain = TransformChain(config.transforms, mean: config.mean, std: config.std, lighting: lighting)
            evalChain = TransformChain(config.evalTransforms, mean: config.mean, std: config.std, lighting: lighting)
            crop = nil
            augmentation = nil
            return
        }
        guard case .memory(let images) = train else { throw Self.needsTransforms("data.transforms", input: input) }
        trainChain = nil
        evalChain = nil
        if config.lightingStd > 0 && images.channels != 3 {
            throw ConfigError("data.augment: lighting needs RGB images; \(images.name) has \(images.channels) channel(s)")
        }
        if let crop = config.crop, crop > images.height || crop > images.width {
            throw ConfigError("data.crop: \(crop)x\(crop) crops do not fit the \(images.height)x\(images.width) images of \(images.name)")
        }
        crop = config.crop.map { ($0, $0) }
        if config.randomCrop || config.flip || config.lightingStd > 0 {
            augmentation = Augmentation(randomCrop: config.randomCrop, padding: config.cropPadding, flip: config.flip,
                                        lightingStd: Float(config.lightingStd),
                                        lighting: config.lightingStd > 0 ? PCALighting.fit(images) : nil)
        } else {
            augmentation = nil
        }
    }

    /// The set of `source` (restricted to `positions`): training sets get
    /// the training chain or augmentation and `train_limit`; evaluation sets
    /// (validation, test) the evaluation chain and `test_limit`.
    func set(_ source: ImageSource, positions: [Int]?, training: Bool) throws -> SampleSet {
        let limit = training ? config.trainLimit : config.testLimit
        guard let chain = training ? trainChain : evalChain else {
            guard case .memory(let images) = source else { preconditionFailure("files always take the chain path") }
            return SampleSet(images: images, mean: config.mean, std: config.std, binaryTarget: config.binaryTarget, limit: limit,
                             crop: crop, augmentation: training ? augmentation : nil, positions: positions)
        }
        let key = training ? "data.transforms" : "data.eval_transforms"
        if case .files = source, (training ? config.transforms : config.evalTransforms).isEmpty {
            throw Self.needsTransforms(key, input: input)
        }
        let size: (height: Int, width: Int)
        if case .memory(let images) = source {
            size = chain.outputSize(input: (images.height, images.width))
        } else {
            // Photographs differ in size: the chain must end at a fixed one.
            size = chain.outputSize(input: (480, 640))
            let other = chain.outputSize(input: (333, 250))
            guard size == other else {
                throw ConfigError("\(key): the images' size decides the output size (480x640 gives \(size.height)x\(size.width), 333x250 gives \(other.height)x\(other.width)); end with a crop or a resize to a fixed height and width")
            }
        }
        return SampleSet(source: source, positions: positions, chain: chain,
                         shape: TensorShape(source.channels, size.height, size.width),
                         binaryTarget: config.binaryTarget, limit: limit, onBadImage: config.onBadImage)
    }

    /// A folder dataset's transforms must bring every image to one size.
    static func needsTransforms(_ key: String, input: TensorShape) -> ConfigError {
        ConfigError("\(key): a folder dataset needs transforms that bring every image to the model's input size \(input.height)x\(input.width), e.g. [{type: resize, size: \(input.height)}, {type: center_crop, size: \(input.height)}] (data.transforms and data.eval_transforms both)")
    }

    /// How a source's images are described in the shape mismatch message.
    func describe(_ source: ImageSource) -> String {
        switch source {
        case .memory(let images):
            if trainChain != nil { return "images \(images.channels)x\(images.height)x\(images.width) through data.transforms" }
            return "images \(images.channels)x\(images.height)x\(images.width)\(config.crop.map { ", crop \($0)" } ?? "")"
        case .files:
            return "image files through data.transforms"
        }
    }
}
