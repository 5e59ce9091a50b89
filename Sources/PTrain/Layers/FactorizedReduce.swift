/// DARTS's `FactorizedReduce`, the stride-2 identity of a reduction cell:
///
///     y = BN(concat(conv_1(relu(x)), conv_2(relu(x)[:, :, 1:, 1:])))
///
/// with conv_1, conv_2 1x1 stride-2 convolutions (no bias) of `filters / 2`
/// filters each, the shifted input zero-padded at the end (so odd sizes
/// work: both halves are `ceil(H/2) x ceil(W/2)`), and batch norm `affine`
/// or not. Tensors are DARTS's: `conv_1.weight`, `conv_2.weight`, `bn.*`.
///
/// One layer composed of existing pieces, not a graph block: the graph has
/// no layer that shifts an image by a pixel (convolution padding is
/// symmetric), and a block would store the relu'd input and both strided
/// copies as full activations. Here the relu and the stride-2 sampling are
/// one gather into two quarter-size buffers, and the 1x1 convolutions (stride
/// 1 on the gathered pixels, the same products) write their halves straight
/// into the batch norm's input.
public final class FactorizedReduce: Layer {
    public let name: String
    public let typeName = "factorized_reduce"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec]
    private let conv1: Conv2D, conv2: Conv2D, bn: BatchNorm
    /// `[maxBatch, C, Ho, Wo]`: relu(x) at the even pixels (2i, 2j) and at the
    /// shifted ones (2i+1, 2j+1), and their gradients.
    private var even: FloatBuffer!, odd: FloatBuffer!, dEven: FloatBuffer!, dOdd: FloatBuffer!
    /// `[maxBatch, filters, Ho, Wo]`: the concatenation (batch norm's input) and its gradient.
    private var joined: FloatBuffer!, dJoined: FloatBuffer!

    /// `filters` must be even (`configured` checks).
    public init(name: String, input: TensorShape, filters: Int, affine: Bool = true, initScheme: InitScheme = .pytorch) {
        self.name = name
        inputShape = input
        let sampled = TensorShape(input.channels, (input.height + 1) / 2, (input.width + 1) / 2)
        conv1 = Conv2D(name: "\(name).conv_1", input: sampled, filters: filters / 2, kernel: (1, 1), bias: false, initScheme: initScheme)
        conv2 = Conv2D(name: "\(name).conv_2", input: sampled, filters: filters / 2, kernel: (1, 1), bias: false, initScheme: initScheme)
        outputShape = TensorShape(filters, sampled.height, sampled.width)
        conv1.outputSampleStride = outputShape.count
        conv2.outputSampleStride = outputShape.count
        bn = BatchNorm(name: "\(name).bn", input: outputShape, affine: affine)
        parameterSpecs = conv1.parameterSpecs.map { $0.prefixed("conv_1") } + conv2.parameterSpecs.map { $0.prefixed("conv_2") }
            + bn.parameterSpecs.map { $0.prefixed("bn") }
    }

    public var detail: String { "\(outputShape.channels)/2" + (bn.affine ? "" : " no affine") }
    public var forwardFLOPs: Int { inputShape.count + conv1.forwardFLOPs + conv2.forwardFLOPs + bn.forwardFLOPs }

    /// The two convolutions and the batch norm run one at a time.
    public func scratchFloats(maxBatch: Int) -> Int {
        max(conv1.scratchFloats(maxBatch: maxBatch), conv2.scratchFloats(maxBatch: maxBatch), bn.scratchFloats(maxBatch: maxBatch))
    }

    /// The strided copies and their gradients, the joined output and its gradient.
    public func ownedFloats(maxBatch: Int) -> Int {
        4 * maxBatch * conv1.inputShape.count + 2 * maxBatch * outputShape.count
            + conv1.ownedFloats(maxBatch: maxBatch) + conv2.ownedFloats(maxBatch: maxBatch) + bn.ownedFloats(maxBatch: maxBatch)
    }

    public func allocate(maxBatch: Int) {
        guard even == nil else { return }
        let half = maxBatch * conv1.inputShape.count
        even = FloatBuffer(count: half); odd = FloatBuffer(count: half)
        dEven = FloatBuffer(count: half); dOdd = FloatBuffer(count: half)
        joined = FloatBuffer(count: maxBatch * outputShape.count); dJoined = FloatBuffer(count: maxBatch * outputShape.count)
        conv1.allocate(maxBatch: maxBatch); conv2.allocate(maxBatch: maxBatch); bn.allocate(maxBatch: maxBatch)
    }

    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        conv1.bind(parameters: [parameters[0]], gradients: [gradients[0]])
        conv2.bind(parameters: [parameters[1]], gradients: [gradients[1]])
        bn.bind(parameters: Array(parameters[2...]), gradients: Array(gradients[2...]))
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        visitSamples(batch: batch) { source, target, inRange in
            even.pointer[target] = max(x[source.even], 0)
            odd.pointer[target] = inRange ? max(x[source.odd], 0) : 0
        }
        conv1.forward(even.pointer, joined.pointer, batch: batch, context: context)
        conv2.forward(odd.pointer, joined.pointer + conv1.outputShape.count, batch: batch, context: context)
        bn.forward(joined.pointer, y, batch: batch, context: context)
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let sampledCount = batch * conv1.inputShape.count, offset = conv1.outputShape.count
        dJoined.pointer.update(repeating: 0, count: batch * outputShape.count)
        bn.backward(joined.pointer, y, dy, dJoined.pointer, batch: batch, context: context)
        if dx != nil {
            dEven.pointer.update(repeating: 0, count: sampledCount)
            dOdd.pointer.update(repeating: 0, count: sampledCount)
        }
        conv1.backward(even.pointer, joined.pointer, dJoined.pointer, dx == nil ? nil : dEven.pointer, batch: batch, context: context)
        conv2.backward(odd.pointer, joined.pointer + offset, dJoined.pointer + offset, dx == nil ? nil : dOdd.pointer,
                       batch: batch, context: context)
        guard let dx else { return }
        // relu's mask: x > 0 at the sampled pixel.
        visitSamples(batch: batch) { source, target, inRange in
            if x[source.even] > 0 { dx[source.even] += dEven.pointer[target] }
            if inRange && x[source.odd] > 0 { dx[source.odd] += dOdd.pointer[target] }
        }
    }

    /// Calls `body` for every gathered value: the input indices of the even
    /// pixel (2i, 2j) and the shifted one (2i+1, 2j+1), the gathered index,
    /// and whether the shifted pixel lies inside the image (else it is padding).
    private func visitSamples(batch: Int, _ body: ((even: Int, odd: Int), Int, Bool) -> Void) {
        let h = inputShape.height, w = inputShape.width, ho = outputShape.height, wo = outputShape.width
        var target = 0
        for plane in 0..<batch * inputShape.channels {
            let base = plane * h * w
            for i in 0..<ho {
                for j in 0..<wo {
                    let at = base + 2 * i * w + 2 * j
                    body((at, at + w + 1), target, 2 * i + 1 < h && 2 * j + 1 < w)
                    target += 1
                }
            }
        }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension FactorizedReduce {
    /// Keys `filters` (even: two halves), `affine` (true) and `init` (pytorch).
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let filtersValue = try m.require("filters")
        let filters = try m.int("filters", 1...Limits.channels)
        guard filters % 2 == 0 else {
            throw filtersValue.error("expected an even number of filters (two halves of 1x1 convolutions), found \(filters)")
        }
        let affine = try m.bool("affine", default: true)
        let scheme = try initScheme(m)
        return { FactorizedReduce(name: $0, input: $1, filters: filters, affine: affine, initScheme: scheme) }
    }
}
