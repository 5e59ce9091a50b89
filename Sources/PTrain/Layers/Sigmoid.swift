import PTrainKernels

/// Logistic activation `y = 1 / (1 + e^-x)`, element-wise.
public final class Sigmoid: Layer {
    public let name: String
    public let typeName = "sigmoid"
    public let inputShape: TensorShape
    public var outputShape: TensorShape { inputShape }
    public let parameterSpecs: [ParameterSpec] = []

    public init(name: String, input: TensorShape) { self.name = name; inputShape = input }

    public var detail: String { "" }
    /// exp, add, divide: counted as 4 per element.
    public var forwardFLOPs: Int { 4 * inputShape.count }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        sigmoidForward(x, y, count: batch * inputShape.count)
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        if let dx { sigmoidBackward(y, dy, dx, count: batch * inputShape.count) }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension Sigmoid {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory { { Sigmoid(name: $0, input: $1) } }
}
