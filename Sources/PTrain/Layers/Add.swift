import PTrainKernels

/// Element-wise sum of two or more tensors of one shape (a residual join):
/// `y = x0 + x1 + ...`; every input receives `dy` unchanged.
public final class Add: MultiInputLayer {
    public let name: String
    public let typeName = "add"
    public let inputShapes: [TensorShape]
    public var inputShape: TensorShape { inputShapes[0] }
    public var outputShape: TensorShape { inputShapes[0] }
    public let parameterSpecs: [ParameterSpec] = []
    private var ports: [TensorPort] = []

    /// Callers check that every shape is equal.
    public init(name: String, inputs: [TensorShape]) { self.name = name; inputShapes = inputs }

    public var detail: String { "" }
    public var forwardFLOPs: Int { (inputShapes.count - 1) * outputShape.count }

    public func connect(_ ports: [TensorPort]) { self.ports = ports }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let per = outputShape.count
        for n in 0..<batch {
            let out = y + n * per
            out.update(from: ports[0].values + n * ports[0].sampleStride, count: per)
            for p in ports.dropFirst() { accumulate(p.values + n * p.sampleStride, into: out, count: per) }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let per = outputShape.count
        for p in ports {
            guard let g = p.gradients else { continue }
            for n in 0..<batch { accumulate(dy + n * per, into: g + n * p.sampleStride, count: per) }
        }
    }
}
