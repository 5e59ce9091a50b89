import PTrainKernels

/// Element-wise sum of two or more tensors of one shape (a residual join):
/// `y = x0 + x1 + ...`; every input receives `dy` unchanged (masked by
/// `y > 0` when the relu after the join is fused into it).
///
/// In a training network `y` may be the buffer of input 0 itself
/// (`StoragePlan.valueHost`): every element is read before it is written
/// at the same index, so the sum and its order are those of separate buffers.
public final class Add: MultiInputLayer, ReLUFusable, InputGradientOverwriting {
    public let name: String
    public let typeName = "add"
    public let inputShapes: [TensorShape]
    public var inputShape: TensorShape { inputShapes[0] }
    public var outputShape: TensorShape { inputShapes[0] }
    public let parameterSpecs: [ParameterSpec] = []
    private var ports: [TensorPort] = []
    public var rectifiesOutput = false
    /// `InputGradientOverwriting`: with the relu fused, backward writes
    /// `0 + dy * (y > 0)` into these inputs' gradients (the others add it).
    public var overwritesInputGradient: [Bool] = []
    public func canOverwriteInputGradient(_ k: Int) -> Bool { rectifiesOutput }

    /// Callers check that every shape is equal.
    public init(name: String, inputs: [TensorShape]) { self.name = name; inputShapes = inputs }

    public var detail: String { "" }
    public var forwardFLOPs: Int { (inputShapes.count - 1) * outputShape.count }

    public func connect(_ ports: [TensorPort]) { self.ports = ports }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let per = outputShape.count
        for n in 0..<batch {
            let out = y + n * per
            if ports.count == 2 {
                addVectors(ports[0].values + n * ports[0].sampleStride, ports[1].values + n * ports[1].sampleStride,
                           into: out, count: per, rectify: rectifiesOutput)
                continue
            }
            let first = ports[0].values + n * ports[0].sampleStride
            if first != UnsafePointer(out) { out.update(from: first, count: per) }
            for p in ports.dropFirst() { accumulate(p.values + n * p.sampleStride, into: out, count: per) }
            if rectifiesOutput { reluForward(out, out, count: per) }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let per = outputShape.count
        // Fused, two inputs with gradient buffers of their own (not x + x):
        // y and dy read once for both.
        func overwrites(_ k: Int) -> Bool { k < overwritesInputGradient.count && overwritesInputGradient[k] }
        if rectifiesOutput, ports.count == 2, let a = ports[0].gradients, let b = ports[1].gradients, a != b {
            for n in 0..<batch {
                reluBackward(y + n * per, dy + n * per, into: a + n * ports[0].sampleStride, b + n * ports[1].sampleStride, count: per,
                             overwriteA: overwrites(0), overwriteB: overwrites(1))
            }
            return
        }
        for (k, p) in ports.enumerated() {
            guard let g = p.gradients else { continue }
            for n in 0..<batch {
                if rectifiesOutput {
                    reluBackward(y + n * per, dy + n * per, g + n * p.sampleStride, count: per, overwrite: overwrites(k))
                } else {
                    accumulate(dy + n * per, into: g + n * p.sampleStride, count: per)
                }
            }
        }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension Add {
    static func configured(_ m: ConfigMapping) throws -> NodeFactory {
        { name, inputs in
            guard inputs.count >= 2 else { throw ShapeError("add needs at least two inputs, but \(inputs.count) is given") }
            if let odd = inputs.firstIndex(where: { $0 != inputs[0] }) {
                throw ShapeError("all inputs must have one shape, but input 0 is \(inputs[0]) and input \(odd) is \(inputs[odd])")
            }
            return Add(name: name, inputs: inputs)
        }
    }
}
