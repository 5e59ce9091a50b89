import PTrainKernels

/// Views each sample under another shape with the same number of values.
/// `flatten` (`[N, C, H, W]` -> `[N, C*H*W]`) is the common case and keeps its
/// own config type, so that a config reads like the PyTorch `nn.Sequential`
/// it mirrors; `reshape` gives any shape (`[1, 28, 28]` -> `[28, 28]`: an
/// image's 28 rows become 28 channels of a length-28 signal for a 1-D
/// convolution). Values are copied unchanged.
public final class Reshape: Layer {
    public let name: String
    public let typeName: String
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []

    /// Callers check `output.count == input.count`.
    public init(name: String, input: TensorShape, output: TensorShape) {
        self.name = name
        typeName = "reshape"
        inputShape = input
        outputShape = output
    }

    /// `[C, H, W]` -> `[C*H*W]`.
    public init(flattening input: TensorShape, name: String) {
        self.name = name
        typeName = "flatten"
        inputShape = input
        outputShape = TensorShape(input.count)
    }

    public var detail: String { "" }
    public var forwardFLOPs: Int { 0 }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        y.update(from: x, count: batch * inputShape.count)
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        if let dx { accumulate(dy, into: dx, count: batch * inputShape.count) }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension Reshape {
    /// Key `shape`: `[channels, height, width]`, `[channels, length]` or `[features]`.
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let value = try m.require("shape")
        let dims = try value.ints(1...Int(Int32.max))
        guard (1...3).contains(dims.count) else { throw value.mismatch("[channels, height, width], [channels, length] or [features]") }
        m.record("shape", value.node)
        let values = dims.reduce(1.0) { $0 * Double($1) }  // in Double: a huge shape must not overflow
        return { name, input in
            guard values == Double(input.count) else {
                throw ShapeError("shape \(dims.map(String.init).joined(separator: "x")) holds \(values <= 0x1p62 ? String(Int(values)) : "over 2^62") values but the input \(input) holds \(input.count)")
            }
            let output = dims.count == 3 ? TensorShape(dims[0], dims[1], dims[2])
                : dims.count == 2 ? TensorShape(dims[0], 1, dims[1]) : TensorShape(dims[0])
            return Reshape(name: name, input: input, output: output)
        }
    }
}

extension Reshape {
    static func flattening(_ m: ConfigMapping) throws -> LayerFactory { { Reshape(flattening: $1, name: $0) } }
}
