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
