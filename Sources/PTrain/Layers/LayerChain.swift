/// A chain of one-input layers run as one piece inside a composite layer (one
/// candidate operation of a `mixed` layer). It keeps every inner output for
/// backward, in buffers allocated once by `allocate`; the inner layers'
/// tensors are reported as `PREFIX.J.NAME` (J: the layer's position).
final class LayerChain {
    let layers: [any Layer]
    let parameterSpecs: [ParameterSpec]
    /// `outputs[j]`: layer j's output, `[maxBatch, layers[j].outputShape]`.
    private var outputs: [FloatBuffer] = []
    /// Two gradient buffers, each as large as the largest inner output:
    /// layer j reads its output gradient from `deltas[j % 2]` and writes its
    /// input gradient into the other.
    private var deltas: [FloatBuffer] = []

    /// `layers` must be non-empty and each read the one before.
    init(layers: [any Layer], prefix: String) {
        precondition(!layers.isEmpty)
        self.layers = layers
        parameterSpecs = layers.enumerated().flatMap { j, layer in layer.parameterSpecs.map { $0.prefixed("\(prefix).\(j)") } }
    }

    var outputShape: TensorShape { layers.last!.outputShape }
    /// The shared scratch its layers need (they run one at a time).
    func scratchFloats(maxBatch: Int) -> Int { layers.map { $0.scratchFloats(maxBatch: maxBatch) }.max() ?? 0 }
    var forwardFLOPs: Int { layers.reduce(0) { $0 + $1.forwardFLOPs } }
    /// What `allocate` reserves: every inner output, the two gradient
    /// buffers, and the inner layers' own buffers.
    func ownedFloats(maxBatch: Int) -> Int {
        maxBatch * (layers.reduce(0) { $0 + $1.outputShape.count } + 2 * layers.map(\.outputShape.count).max()!)
            + layers.reduce(0) { $0 + $1.ownedFloats(maxBatch: maxBatch) }
    }

    /// The last forward's output, `[batch, outputShape]`.
    var output: UnsafeMutablePointer<Float> { outputs.last!.pointer }

    /// The gradient of the chain's output that `backward` propagates: the
    /// caller writes it here first.
    var outputGradient: UnsafeMutablePointer<Float> { deltas[(layers.count - 1) % 2].pointer }

    func allocate(maxBatch: Int) {
        guard outputs.isEmpty else { return }
        for layer in layers { layer.allocate(maxBatch: maxBatch) }
        outputs = layers.map { FloatBuffer(count: maxBatch * $0.outputShape.count) }
        let largest = layers.map(\.outputShape.count).max()!
        deltas = [FloatBuffer(count: maxBatch * largest), FloatBuffer(count: maxBatch * largest)]
    }

    /// Hands each inner layer its slice of the tensor lists (in `parameterSpecs` order).
    func bind(parameters: ArraySlice<UnsafeMutablePointer<Float>>, gradients: ArraySlice<UnsafeMutablePointer<Float>>) {
        var k = parameters.startIndex
        for layer in layers {
            let n = layer.parameterSpecs.count
            layer.bind(parameters: Array(parameters[k..<k + n]), gradients: Array(gradients[k..<k + n]))
            k += n
        }
    }

    /// Runs the chain on `x`; the result is in `output`.
    func forward(_ x: UnsafePointer<Float>, batch: Int, context: StepContext) {
        var input = x
        for (j, layer) in layers.enumerated() {
            layer.forward(input, outputs[j].pointer, batch: batch, context: context)
            input = UnsafePointer(outputs[j].pointer)
        }
    }

    /// Back-propagates `outputGradient` (overwritten on the way), adding the
    /// input gradient into `dx` (nil: not wanted) and the inner parameter
    /// gradients into their bound views.
    func backward(_ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        for j in stride(from: layers.count - 1, through: 0, by: -1) {
            let input = j == 0 ? x : UnsafePointer(outputs[j - 1].pointer)
            var inputGradient = dx
            if j > 0 {
                inputGradient = deltas[(j - 1) % 2].pointer
                inputGradient!.update(repeating: 0, count: batch * layers[j - 1].outputShape.count)
            }
            layers[j].backward(input, outputs[j].pointer, deltas[j % 2].pointer, inputGradient, batch: batch, context: context)
        }
    }
}
