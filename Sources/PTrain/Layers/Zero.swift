/// DARTS's `none` operation (`Zero(stride)`): zeros of the input's shape, or
/// with `stride` s of the strided shape `ceil(H / s) x ceil(W / s)` (what
/// `x[:, :, ::s, ::s].mul(0.)` gives). Its gradient is zero: backward adds
/// nothing to the input gradient. In a `mixed` layer it lets the search
/// weigh "no connection" against the real operations.
public final class Zero: Layer {
    public let name: String
    public let typeName = "zero"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []
    public let stride: Int

    public init(name: String, input: TensorShape, stride: Int = 1) {
        self.name = name
        inputShape = input
        self.stride = stride
        outputShape = TensorShape(input.channels, (input.height + stride - 1) / stride, (input.width + stride - 1) / stride)
    }

    public var detail: String { stride == 1 ? "" : "/\(stride)" }
    public var forwardFLOPs: Int { 0 }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        y.update(repeating: 0, count: batch * outputShape.count)
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {}
}

// MARK: - config parser (keys documented in README "Config format")

extension Zero {
    /// Key `stride` (default 1), on both spatial axes.
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let stride = try m.int("stride", default: 1, 1...Limits.window)
        return { Zero(name: $0, input: $1, stride: stride) }
    }
}
