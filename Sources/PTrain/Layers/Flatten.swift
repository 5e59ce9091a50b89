import PTrainKernels

/// `[N, C, H, W]` -> `[N, C*H*W]`. The memory layout is unchanged; the layer
/// exists so that a config reads like the PyTorch `nn.Sequential` it mirrors
/// (and keeps the same `state_dict` indices).
public final class Flatten: Layer {
    public let name: String
    public let typeName = "flatten"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []

    public init(name: String, input: TensorShape) {
        self.name = name
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
