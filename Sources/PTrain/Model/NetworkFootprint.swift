/// The bytes a `Network` allocates for its activations, known before it is
/// built (for `MemoryEstimate`): the input `[maxBatch, input]` and labels,
/// the value buffers (a training network keeps every owner's output for
/// backward; an inference network shares buffers between owners never live
/// at once) and, when training, the shared activation-gradient buffers.
/// Layer scratch (`Layer.allocate`: im2col columns, Winograd tiles) is not
/// included.
public struct NetworkFootprint: Sendable, Equatable {
    /// Bytes of the input, values and activation gradients (floats) and
    /// labels (Int32), 4 each.
    public let bytes: Int

    public init(model: Model, maxBatch: Int, training: Bool) {
        let plan = StoragePlan(model: model)
        let slots = plan.slotSizes.reduce(0, +)
        let owned = model.layers.indices.filter { plan.owner[$0] == $0 }.reduce(0) { $0 + model.layers[$1].outputShape.count }
        let perSample = model.inputShape.count + (training ? owned + slots : slots)
        bytes = 4 * maxBatch * (perSample + 1)  // + 1: the label
    }
}
