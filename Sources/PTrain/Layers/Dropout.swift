import PTrainKernels

/// Inverted dropout: in training, each element is kept with probability
/// `1 - p` and scaled by `1 / (1 - p)`; in inference it is the identity.
/// The mask of a sample is drawn from `(seed, epoch, sample index, layer)`, so
/// it does not depend on which worker or shard processes the sample.
public final class Dropout: Layer {
    public let name: String
    public let typeName = "dropout"
    public let inputShape: TensorShape
    public var outputShape: TensorShape { inputShape }
    public let parameterSpecs: [ParameterSpec] = []
    public let probability: Float
    /// Distinguishes the masks of two dropout layers for the same sample.
    private let layerKey: UInt64
    /// `[maxBatch, count]`: 0 or 1/(1-p) for the last training forward.
    private var mask: FloatBuffer?

    public init(name: String, input: TensorShape, probability: Float) {
        self.name = name
        inputShape = input
        self.probability = probability
        layerKey = name.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }  // FNV-1a
    }

    public var detail: String { "p \(probability)" }
    public var forwardFLOPs: Int { inputShape.count }

    /// The mask (`NetworkFootprint` counts it).
    public func ownedFloats(maxBatch: Int) -> Int { maxBatch * inputShape.count }

    public func allocate(maxBatch: Int) {
        if mask == nil { mask = FloatBuffer(count: maxBatch * inputShape.count) }
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let count = inputShape.count
        guard context.training, context.dropout, probability > 0 else {
            y.update(from: x, count: batch * count)
            return
        }
        let keep = 1 - probability, scale = 1 / keep
        for n in 0..<batch {
            var rng = CounterRNG(seed: context.seed, stream: .dropout, UInt64(context.epoch),
                                 UInt64(context.sampleIndices[n]), layerKey)
            let m = mask!.pointer + n * count
            for i in 0..<count {
                m[i] = rng.uniform() < keep ? scale : 0
                y[n * count + i] = x[n * count + i] * m[i]
            }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        guard let dx else { return }
        let total = batch * inputShape.count
        guard context.training, context.dropout, probability > 0 else {
            accumulate(dy, into: dx, count: total)
            return
        }
        let m = mask!.pointer
        for i in 0..<total { dx[i] += dy[i] * m[i] }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension Dropout {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let p = Float(try m.double("p", default: 0.5, 0...0.99))
        return { Dropout(name: $0, input: $1, probability: p) }
    }
}
