import Yams

/// One entry of `data.transforms` / `data.eval_transforms`: the per-sample
/// image transforms torchvision users know, applied in the order written.
/// Sizes are in pixels; the chain itself lives in PTrainData (TransformChain).
public enum TransformOperation: Equatable, Sendable {
    /// The target of a resize or crop.
    public enum Size: Equatable, Sendable {
        /// Resize: the shorter side becomes this, the aspect ratio is kept
        /// (torchvision `Resize(int)`); crops: a square of this side.
        case side(Int)
        /// Exactly this many rows and columns.
        case exact(height: Int, width: Int)
    }

    /// Antialiased bilinear resize (torchvision `antialias=True`, PIL BILINEAR).
    case resize(Size)
    /// The centre cut (zero-filled where it is larger than the image); at
    /// ten-crop evaluation the last one is where the ten views are cut.
    case centerCrop(height: Int, width: Int)
    /// Pad by `padding` zero pixels on every side, then cut at a uniform position.
    case randomCrop(height: Int, width: Int, padding: Int)
    /// torchvision `RandomResizedCrop`: a box of area fraction in `scale` and
    /// aspect ratio (width / height) in `ratio`, resized to height x width.
    case randomResizedCrop(height: Int, width: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>)
    /// Mirror left-right with probability 1/2.
    case flip
    /// torchvision `ColorJitter`: factors uniform in [max(0, 1 - v), 1 + v], in a random order (0: off).
    case colorJitter(brightness: Double, contrast: Double, saturation: Double)
    /// AlexNet PCA lighting with this alpha standard deviation; the RGB
    /// eigen-decomposition given here (eigenvectors as rows of the matrix whose
    /// columns are the eigenvectors), or fitted from training images when nil.
    case lighting(alphaStd: Double, eigenvalues: [Double]?, eigenvectors: [[Double]]?)

    /// The `type:` spellings.
    public enum Kind: String, ConfigOption {
        case resize, centerCrop = "center_crop", randomCrop = "random_crop", randomResizedCrop = "random_resized_crop"
        case flip, colorJitter = "color_jitter", lighting
    }

    public var kind: Kind {
        switch self {
        case .resize: .resize
        case .centerCrop: .centerCrop
        case .randomCrop: .randomCrop
        case .randomResizedCrop: .randomResizedCrop
        case .flip: .flip
        case .colorJitter: .colorJitter
        case .lighting: .lighting
        }
    }
}

extension TransformOperation {
    /// The largest size a transform may produce or cut, per side.
    static let maxSide = 100_000

    /// Decodes the list under `key` of `d` (`[]` when absent), recording it for the resolved config.
    static func decodeList(_ key: String, in d: ConfigMapping) throws -> [TransformOperation] {
        guard let list = d.optional(key) else { return [] }
        let operations = try list.sequence().map { item -> TransformOperation in
            let op = try item.mapping()
            let decoded = try decode(op)
            try op.finish()
            return decoded
        }
        d.record(key, list.node)
        return operations
    }

    /// One `{type: ..., ...}` mapping.
    private static func decode(_ op: ConfigMapping) throws -> TransformOperation {
        let kind: Kind = try op.option("type")
        switch kind {
        case .resize:
            return .resize(try size(op))
        case .centerCrop:
            let (h, w) = try size(op).cut
            return .centerCrop(height: h, width: w)
        case .randomCrop:
            let (h, w) = try size(op).cut
            return .randomCrop(height: h, width: w, padding: try op.int("padding", default: 0, 0...10_000))
        case .randomResizedCrop:
            let (h, w) = try size(op).cut
            return .randomResizedCrop(height: h, width: w, scale: try interval(op, "scale", default: 0.08...1, upTo: 1),
                                      ratio: try interval(op, "ratio", default: 0.75...(4.0 / 3), upTo: 100))
        case .flip:
            return .flip
        case .colorJitter:
            if let hue = op.optional("hue") {
                throw hue.error("hue jitter is not supported (brightness, contrast and saturation are)")
            }
            return .colorJitter(brightness: try op.double("brightness", default: 0, 0...100),
                                contrast: try op.double("contrast", default: 0, 0...100),
                                saturation: try op.double("saturation", default: 0, 0...100))
        case .lighting:
            return try lighting(op)
        }
    }

    /// `size: N`, or `height: H` with `width: W`.
    private static func size(_ op: ConfigMapping) throws -> Size {
        let side = try op.optionalInt("size", 1...maxSide)
        let height = try op.optionalInt("height", 1...maxSide), width = try op.optionalInt("width", 1...maxSide)
        switch (side, height, width) {
        case (let s?, nil, nil): return .side(s)
        case (nil, let h?, let w?): return .exact(height: h, width: w)
        case (_?, _, _): throw op.value.error("give size or height and width, not both")
        default: throw op.value.error("expected size, or height and width")
        }
    }

    /// `[min, max]` with 0 < min <= max <= upper.
    private static func interval(_ op: ConfigMapping, _ key: String, default def: ClosedRange<Double>,
                                 upTo upper: Double) throws -> ClosedRange<Double> {
        guard let raw = op.optional(key) else {
            op.record(key, Node([Node(String(def.lowerBound)), Node(String(def.upperBound))], .implicit, .flow))
            return def
        }
        let items = try raw.sequence()
        guard items.count == 2 else { throw raw.mismatch("a list of 2 numbers") }
        let v = try items.map { try $0.double(0...upper, openLower: true) }
        guard v[0] <= v[1] else { throw raw.error("expected [min, max] with min <= max, found [\(v[0]), \(v[1])]") }
        op.record(key, raw.node)
        return v[0]...v[1]
    }

    /// `alphastd`, and either both `eigenvalues: [3]` and `eigenvectors: [[3], [3], [3]]` or neither.
    private static func lighting(_ op: ConfigMapping) throws -> TransformOperation {
        let alphaStd = try op.double("alphastd", default: 0.1, 0...10)
        let values = try op.doubles("eigenvalues", 0...1e6, count: 3)
        var vectors: [[Double]]? = nil
        if let raw = op.optional("eigenvectors") {
            let rows = try raw.sequence()
            guard rows.count == 3 else { throw raw.mismatch("a list of 3 rows of 3 numbers") }
            vectors = try rows.map { try $0.doubles(-1e6...1e6, count: 3) }
            op.record("eigenvectors", raw.node)
        }
        guard (values == nil) == (vectors == nil) else {
            throw op.value.error("give both eigenvalues and eigenvectors, or neither (then they are fitted from the training images)")
        }
        return .lighting(alphaStd: alphaStd, eigenvalues: values, eigenvectors: vectors)
    }
}

extension TransformOperation.Size {
    /// As a crop: `side` is a square.
    var cut: (Int, Int) {
        switch self {
        case .side(let s): (s, s)
        case .exact(let h, let w): (h, w)
        }
    }
}

extension DataConfig {
    /// Decodes `data.transforms` and `data.eval_transforms`, which replace
    /// `data.crop` and `data.augment` (given with them: an error at the list).
    static func decodeTransforms(_ d: ConfigMapping, crop: Int?, augment: [AugmentationOperation],
                                 evalViews: EvalViews) throws -> (train: [TransformOperation], eval: [TransformOperation]) {
        let train = try TransformOperation.decodeList("transforms", in: d)
        let eval = try TransformOperation.decodeList("eval_transforms", in: d)
        if crop != nil || !augment.isEmpty, let given = d.optional("transforms") ?? d.optional("eval_transforms") {
            throw given.error("replaces data.crop and data.augment; use one or the other")
        }
        if evalViews == .tenCrop, let list = d.optional("eval_transforms"), !eval.isEmpty,
           !eval.contains(where: { $0.kind == .centerCrop }) {
            throw list.error("eval_views: ten_crop cuts its views at a center_crop, and this list has none")
        }
        return (train, eval)
    }
}
