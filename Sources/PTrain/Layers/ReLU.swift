import PTrainKernels

/// `y = max(x, 0)`, element-wise; backward uses the output's sign.
public final class ReLU: Layer {
    public let name: String
    public let typeName = "relu"
    public let inputShape: TensorShape
    public var outputShape: TensorShape { inputShape }
    public let parameterSpecs: [ParameterSpec] = []

    public init(name: String, input: TensorShape) { self.name = name; inputShape = input }

    public var detail: String { "" }
    public var forwardFLOPs: Int { inputShape.count }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        reluForward(x, y, count: batch * inputShape.count)
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        if let dx { reluBackward(y, dy, dx, count: batch * inputShape.count) }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension ReLU {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory { { ReLU(name: $0, input: $1) } }
}
