import PTrainKernels

/// Views each sample under another shape with the same number of values
/// (`[1, 28, 28]` -> `[28, 28]`: an image's 28 rows become 28 channels of a
/// length-28 signal for a 1-D convolution). Values are copied unchanged.
public final class Reshape: Layer {
    public let name: String
    public let typeName = "reshape"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []

    /// Callers check `output.count == input.count`.
    public init(name: String, input: TensorShape, output: TensorShape) {
        self.name = name
        inputShape = input
        outputShape = output
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
