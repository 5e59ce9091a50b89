import PTrainKernels

/// Channel concatenation of tensors with one spatial size:
/// `[N, C0, H, W] ++ [N, C1, H, W] -> [N, C0 + C1, H, W]` (Inception's branch
/// join, DenseNet's feature accumulation).
///
/// Inputs the network placed inside the output (`TensorPort.inPlace`: their
/// producers wrote straight into the output's channel slice) cost nothing;
/// only the other inputs are copied. That is how a DenseNet block keeps one
/// shared feature buffer instead of quadratic copies.
public final class Concat: MultiInputLayer, StridedOutputLayer {
    public let name: String
    public let typeName = "concat"
    public let inputShapes: [TensorShape]
    public var inputShape: TensorShape { inputShapes[0] }
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []
    public var outputSampleStride: Int
    /// First channel of each input in the output.
    public let channelOffsets: [Int]
    private var ports: [TensorPort] = []

    /// Callers check that every input has the same height and width.
    public init(name: String, inputs: [TensorShape]) {
        self.name = name
        inputShapes = inputs
        var offsets: [Int] = [], c = 0
        for s in inputs { offsets.append(c); c += s.channels }
        channelOffsets = offsets
        outputShape = TensorShape(c, inputs[0].height, inputs[0].width)
        outputSampleStride = outputShape.count
    }

    public var detail: String { inputShapes.map { String($0.channels) }.joined(separator: "+") }
    public var forwardFLOPs: Int { 0 }

    public func connect(_ ports: [TensorPort]) { self.ports = ports }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let spatial = outputShape.spatial
        for (i, p) in ports.enumerated() where !p.inPlace {
            let per = inputShapes[i].count
            for n in 0..<batch {
                (y + n * outputSampleStride + channelOffsets[i] * spatial).update(from: p.values + n * p.sampleStride, count: per)
            }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let spatial = outputShape.spatial
        for (i, p) in ports.enumerated() where !p.inPlace {
            guard let g = p.gradients else { continue }
            let per = inputShapes[i].count
            for n in 0..<batch {
                accumulate(dy + n * outputSampleStride + channelOffsets[i] * spatial, into: g + n * p.sampleStride, count: per)
            }
        }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension Concat {
    static func configured(_ m: ConfigMapping) throws -> NodeFactory {
        { name, inputs in
            guard inputs.count >= 2 else { throw ShapeError("concat needs at least two inputs, but \(inputs.count) is given") }
            if let odd = inputs.firstIndex(where: { $0.height != inputs[0].height || $0.width != inputs[0].width }) {
                throw ShapeError("inputs must share height and width, but input 0 is \(inputs[0]) and input \(odd) is \(inputs[odd])")
            }
            let channels = inputs.reduce(0.0) { $0 + Double($1.channels) }
            try Limits.check(parameters: 0, outputs: channels * Double(inputs[0].spatial), flops: 0)
            return Concat(name: name, inputs: inputs)
        }
    }
}
