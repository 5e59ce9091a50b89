/// The bytes a `Network` allocates for its activations, known before it is
/// built (for `MemoryEstimate`): the input `[maxBatch, input]` and labels,
/// the value buffers (a training network keeps every owner's output for
/// backward; an inference network shares buffers between owners never live
/// at once) and, when training, the shared activation-gradient buffers, and
/// the buffers composite layers own (`Layer.ownedFloats`: a mixed edge's
/// inner outputs);
/// apart, the layer scratch it reserves (`LayerScratch`: im2col columns,
/// padded planes, Winograd tiles, a routed pool's patches), which networks may share.
public struct NetworkFootprint: Sendable, Equatable {
    /// Bytes of the input, values and activation gradients (floats) and
    /// labels (Int32), 4 each.
    public let bytes: Int
    /// Bytes of layer scratch: the largest of the layers' needs, 4 a float.
    public let scratchBytes: Int

    public init(model: Model, maxBatch: Int, training: Bool) {
        // The plan the network builds: an inference network folds its batch norms.
        let plan = StoragePlan(model: model, foldNorms: !training, routePools: training)
        let slots = plan.slotSizes.reduce(0, +)
        let owned = model.layers.indices.filter { plan.owner[$0] == $0 && plan.valueHost[$0] == $0 }
            .reduce(0) { $0 + model.layers[$1].outputShape.count }
        let perSample = model.inputShape.count + (training ? owned + slots : slots)
        bytes = 4 * maxBatch * (perSample + 1)  // + 1: the label
            + 4 * model.layers.reduce(0) { $0 + $1.ownedFloats(maxBatch: maxBatch) }
        scratchBytes = 4 * max(model.scratchFloats(maxBatch: maxBatch), plan.routedScratchFloats(model))
    }
}
