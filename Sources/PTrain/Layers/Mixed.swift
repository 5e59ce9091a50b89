import PTrainKernels
import Yams

/// DARTS's mixed operation (Liu et al. 2019): `y = Σᵢ softmax(α)ᵢ · opᵢ(x)`
/// over candidate operations, each a chain of one-input layers mapping the
/// input to the same output shape.
///
/// `alpha` (`[ops]`, the first tensor; shared by every mixed layer with the
/// same `alpha:` name, as DARTS ties each edge's alpha across the cells of a
/// type, so its gradient is ADDED to, never overwritten) is an ARCHITECTURE parameter
/// (`ParameterRole.architecture`): checkpointed, differentiated and reduced
/// like a weight, but not stepped by the weight optimizer. It starts at
/// `alpha_std · N(0, 1)` (DARTS's 1e-3 by default; 0 gives zeros: a uniform
/// mixture). The candidates' own tensors follow, named `ops.I.J.NAME` (op I,
/// its layer J), so a search cell's weights read like a state_dict.
///
/// Gradients, with w = softmax(α) and gᵢ = Σ dy · opᵢ(x) over the shard:
/// op i receives `wᵢ · dy`; `dL/dαⱼ = wⱼ (gⱼ - Σᵢ wᵢ gᵢ)` (the softmax Jacobian).
public final class Mixed: Layer {
    public let name: String
    public let typeName = "mixed"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec]
    private let ops: [LayerChain]
    /// `[ops]`: softmax(α) of the last forward.
    private var weights: FloatBuffer!
    private var alpha: UnsafeMutablePointer<Float>!, dAlpha: UnsafeMutablePointer<Float>!

    /// `ops[i]`: op i's layers, built for `input`; callers check that every
    /// op is non-empty and outputs the same shape (`configured` does).
    /// `sharedAlpha`: the model-wide name of an alpha this edge shares with
    /// other mixed layers (`ParameterSpec.shared`); nil: its own `NAME.alpha`.
    public init(name: String, input: TensorShape, ops: [[any Layer]], alphaStd: Float = 1e-3, sharedAlpha: String? = nil) {
        self.name = name
        inputShape = input
        self.ops = ops.enumerated().map { LayerChain(layers: $1, prefix: "ops.\($0)") }
        outputShape = self.ops[0].outputShape
        parameterSpecs = [ParameterSpec(name: "alpha", shape: [ops.count], initializer: .normal(std: alphaStd), role: .architecture,
                                        shared: sharedAlpha)]
            + self.ops.flatMap(\.parameterSpecs)
    }

    /// The ops' layer types, e.g. `zero | maxpool+batchnorm | conv2d`.
    public var detail: String { ops.map { $0.layers.map(\.typeName).joined(separator: "+") }.joined(separator: " | ") }
    /// The candidates, plus a multiply-add per op and output value.
    public var forwardFLOPs: Int { ops.reduce(0) { $0 + $1.forwardFLOPs } + 2 * ops.count * outputShape.count }

    /// The candidates run one at a time: the largest scratch any of them needs.
    public func scratchFloats(maxBatch: Int) -> Int { ops.map { $0.scratchFloats(maxBatch: maxBatch) }.max() ?? 0 }

    public func ownedFloats(maxBatch: Int) -> Int { ops.count + ops.reduce(0) { $0 + $1.ownedFloats(maxBatch: maxBatch) } }

    public func allocate(maxBatch: Int) {
        guard weights == nil else { return }
        weights = FloatBuffer(count: ops.count)
        for op in ops { op.allocate(maxBatch: maxBatch) }
    }

    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        alpha = parameters[0]; dAlpha = gradients[0]
        var k = 1
        for op in ops {
            let n = op.parameterSpecs.count
            op.bind(parameters: parameters[k..<k + n], gradients: gradients[k..<k + n])
            k += n
        }
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let w = weights.pointer, n = ops.count, count = batch * outputShape.count
        // Softmax, shifted by the largest logit so exp never overflows.
        var largest = -Float.infinity
        for i in 0..<n { largest = max(largest, alpha[i]) }
        var total: Float = 0
        for i in 0..<n { w[i] = (alpha[i] - largest).exp_(); total += w[i] }
        for i in 0..<n { w[i] /= total }
        y.update(repeating: 0, count: count)
        for (i, op) in ops.enumerated() {
            op.forward(x, batch: batch, context: context)
            axpy(count, w[i], op.output, y)
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let w = weights.pointer, count = batch * outputShape.count
        // gᵢ = <dy, opᵢ(x)> (in Double: a sum over the whole shard), then the
        // softmax Jacobian; op i's output gradient is wᵢ dy.
        var weighted = 0.0
        for (i, op) in ops.enumerated() {
            let g = dot(count, dy, op.output)
            weighted += Double(w[i]) * g
            dAlpha[i] += Float(Double(w[i]) * g)
        }
        for (i, op) in ops.enumerated() {
            dAlpha[i] -= Float(Double(w[i]) * weighted)
            let seed = op.outputGradient, wi = w[i]
            for k in 0..<count { seed[k] = wi * dy[k] }
            op.backward(x, dx, batch: batch, context: context)
        }
    }
}

/// `y += a * x` over `count` floats.
private func axpy(_ count: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    for k in 0..<count { y[k] = y[k].addingProduct(a, x[k]) }
}

/// Σ a·b over `count` floats: 16-lane Float sums over blocks of 1024
/// floats, the blocks' sums added in Double (the same order for any worker
/// count: it depends on the shard alone).
private func dot(_ count: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Double {
    var total = 0.0, k = 0
    while k < count {
        let end = min(count, k + 1024)
        var lanes = SIMD16<Float>()
        while k + 16 <= end {
            lanes.addProduct(UnsafeRawPointer(a + k).loadUnaligned(as: SIMD16<Float>.self),
                             UnsafeRawPointer(b + k).loadUnaligned(as: SIMD16<Float>.self))
            k += 16
        }
        var block = Double(lanes.sum())
        while k < end { block += Double(a[k]) * Double(b[k]); k += 1 }
        total += block
    }
    return total
}

// MARK: - config parser (keys documented in README "Config format")

extension Mixed {
    /// Keys `ops` (a list of candidates, each a list of layer entries as in
    /// `model.layers`, without names, inputs or blocks), `alpha_std` (1e-3)
    /// and `alpha` (a model-wide tensor name shared with other mixed layers
    /// of the same op count; absent: the layer's own `NAME.alpha`).
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let opsValue = try m.require("ops")
        let opValues = try opsValue.sequence()
        guard !opValues.isEmpty else { throw opsValue.error("a mixed layer needs at least one op") }
        var factories: [[(type: String, make: NodeFactory)]] = []
        var resolved: [Node] = []
        for opValue in opValues {
            let entries = try opValue.sequence().map { try $0.mapping() }
            guard !entries.isEmpty else { throw opValue.error("an op needs at least one layer") }
            factories.append(try entries.map { lm in
                let type = try lm.string("type", oneOf: LayerRegistry.typeNames)
                if LayerRegistry.joinTypes.contains(type) {
                    throw lm.value.error("an op is a chain of one-input layers; '\(type)' joins several inputs")
                }
                let make = try LayerRegistry.parsers[type]!(lm)
                try lm.finish()
                return (type, make)
            })
            resolved.append(Node(entries.map(\.resolvedNode)))
        }
        m.record("ops", Node(resolved))
        let alphaStd = Float(try m.double("alpha_std", default: 1e-3, 0...1))
        let sharedAlpha = try m.optionalString("alpha")
        return { name, input in
            var ops: [[any Layer]] = []
            for (i, op) in factories.enumerated() {
                var shape = input, layers: [any Layer] = []
                for (j, entry) in op.enumerated() {
                    do {
                        layers.append(try entry.make("\(name).ops.\(i).\(j)", [shape]))
                    } catch let e as ShapeError {
                        throw ShapeError("ops[\(i)][\(j)] (\(entry.type)) \(e.message)")
                    }
                    shape = layers.last!.outputShape
                }
                if let first = ops.first?.last?.outputShape, shape != first {
                    throw ShapeError("ops[\(i)] outputs \(shape), but ops[0] outputs \(first): every op must map the input to the same shape")
                }
                ops.append(layers)
            }
            return Mixed(name: name, input: input, ops: ops, alphaStd: alphaStd, sharedAlpha: sharedAlpha)
        }
    }
}
