/// A model's definition: its layers (with shapes and parameter specs), the
/// parameter layout, and its loss. Building one allocates nothing but the
/// layer objects, so `ptrain summary` can describe any size of model.
/// Layers hold per-replica scratch once allocated: every worker builds its own
/// `Model` from the same config.
public final class Model {
    public let inputShape: TensorShape
    public let layers: [any Layer]
    public let loss: LossKind
    public let layout: ParameterLayout
    /// `inputs[i]`: the nodes layer i reads, in order; -1 is the model input.
    /// Layers are in topological order (every input precedes its reader) and
    /// the last layer is the output.
    public let inputs: [[Int]]

    /// `inputs: nil` chains the layers (each reads the previous one).
    public init(inputShape: TensorShape, layers: [any Layer], loss: LossKind, inputs: [[Int]]? = nil) {
        self.inputShape = inputShape
        self.layers = layers
        self.loss = loss
        self.inputs = inputs ?? layers.indices.map { [$0 - 1] }
        precondition(self.inputs.count == layers.count && self.inputs.enumerated().allSatisfy { i, s in
            !s.isEmpty && s.allSatisfy { (-1..<i).contains($0) } })
        layout = ParameterLayout(layers: layers)
    }

    /// Activation floats a network stores per sample (each gradient buffer
    /// holds as many again), with concatenation inputs stored in place.
    public var storedActivationsPerSample: Int {
        let plan = StoragePlan(model: self)
        return layers.indices.filter { plan.owner[$0] == $0 }.reduce(0) { $0 + layers[$1].outputShape.count }
    }

    /// Activation-gradient floats a training network stores per sample
    /// (buffers shared between gradients that are never live at once); also
    /// the activation floats of an inference-only network (values shared the
    /// same way).
    public var sharedBuffersPerSample: Int { StoragePlan(model: self).slotSizes.reduce(0, +) }

    /// The same if every layer kept its own output buffer.
    public var separateActivationsPerSample: Int { layers.reduce(0) { $0 + $1.outputShape.count } }

    /// True when every layer reads exactly the one before it.
    public var isSequential: Bool { inputs.enumerated().allSatisfy { $1 == [$0 - 1] } }

    public var outputShape: TensorShape { layers.last?.outputShape ?? inputShape }
    public var parameterCount: Int { layout.parameterCount }
    /// Forward FLOPs per sample (multiply-add = 2).
    public var forwardFLOPs: Int { layers.reduce(0) { $0 + $1.forwardFLOPs } }
}
