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

    public init(inputShape: TensorShape, layers: [any Layer], loss: LossKind) {
        self.inputShape = inputShape
        self.layers = layers
        self.loss = loss
        layout = ParameterLayout(layers: layers)
    }

    public var outputShape: TensorShape { layers.last?.outputShape ?? inputShape }
    public var parameterCount: Int { layout.parameterCount }
    /// Forward FLOPs per sample (multiply-add = 2).
    public var forwardFLOPs: Int { layers.reduce(0) { $0 + $1.forwardFLOPs } }
}
