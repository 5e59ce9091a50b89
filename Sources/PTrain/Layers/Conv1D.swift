import PTrainKernels

/// 1-D convolution over `[N, C, L]` (stored as `[N, C, 1, L]`):
/// `y [N, O, OL]`, weights `[O, C/groups, K]` (PyTorch's `Conv1d` layout),
/// bias `[O]`. It is a 2-D convolution with a `1 x K` kernel on a height-1
/// plane, and runs as one; only the names and the weight shape differ.
public final class Conv1D: PrecisionSelectable {
    public let name: String
    public let typeName = "conv1d"
    private let plane: Conv2D
    public let parameterSpecs: [ParameterSpec]

    /// Callers validate: height 1, channels and filters divisible by groups, output >= 1.
    public init(name: String, input: TensorShape, filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                groups: Int = 1, bias: Bool = true, initScheme: InitScheme = .pytorch) {
        self.name = name
        plane = Conv2D(name: name, input: input, filters: filters, kernel: (1, kernel), stride: (1, stride),
                       padding: (0, padding), groups: groups, bias: bias, initScheme: initScheme)
        // Same tensors and initialisers, with the 1-D weight shape [O, C/g, K].
        parameterSpecs = plane.parameterSpecs.map { spec in
            spec.name == "weight" ? ParameterSpec(name: "weight", shape: [filters, input.channels / groups, kernel], initializer: spec.initializer) : spec
        }
    }

    public var precision: ComputePrecision {
        get { plane.precision }
        set { plane.precision = newValue }
    }
    public var inputShape: TensorShape { plane.inputShape }
    public var outputShape: TensorShape { plane.outputShape }
    public var forwardFLOPs: Int { plane.forwardFLOPs }
    public var detail: String {
        let g = plane.geometry
        var s = "\(plane.filters) k\(g.kernelW)/\(g.strideW)"
        if g.padW != 0 { s += " pad \(g.padW)" }
        if plane.groups != 1 { s += " groups \(plane.groups)" }
        return s
    }

    public func allocate(maxBatch: Int) { plane.allocate(maxBatch: maxBatch) }
    public func scratchFloats(maxBatch: Int) -> Int { plane.scratchFloats(maxBatch: maxBatch) }
    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        plane.bind(parameters: parameters, gradients: gradients)
    }
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        plane.forward(x, y, batch: batch, context: context)
    }
    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        plane.backward(x, y, dy, dx, batch: batch, context: context)
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension Conv1D {
    /// Keys as conv2d's, with single integers: `filters`, `kernel`, `stride`, `padding`, `groups`, `bias`, `init`.
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let filters = try m.int("filters", 1...Limits.channels)
        let kernel = try m.int("kernel", 1...Limits.window)
        let stride = try m.int("stride", default: 1, 1...Limits.window)
        let padding = try m.int("padding", default: 0, 0...Limits.window)
        let groups = try m.int("groups", default: 1, 1...Limits.channels)
        let bias = try m.bool("bias", default: true)
        let scheme = try initScheme(m)
        return { name, input in
            guard input.height == 1 else {
                throw ShapeError("conv1d reads [channels, length] samples, but the input is \(input) (reshape it first)")
            }
            guard input.channels % groups == 0, filters % groups == 0 else {
                throw ShapeError("input channels \(input.channels) and filters \(filters) must both be divisible by groups \(groups)")
            }
            try checkWindow(input: input, kernel: (1, kernel), stride: (1, stride), padding: (0, padding))
            let length = Double((input.width + 2 * padding - kernel) / stride + 1)
            let fanIn = Double(input.channels / groups * kernel)
            try Limits.check(parameters: Double(filters) * fanIn, outputs: Double(filters) * length, flops: 2 * Double(filters) * fanIn * length)
            return Conv1D(name: name, input: input, filters: filters, kernel: kernel, stride: stride, padding: padding,
                          groups: groups, bias: bias, initScheme: scheme)
        }
    }
}
