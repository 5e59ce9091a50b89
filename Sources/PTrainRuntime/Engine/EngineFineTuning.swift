import PTrain

extension DataParallelEngine {
    /// Fine-tuning (`train.init_from`), before the first step: the tensors
    /// of `tensors` that match the model's parameters by name and shape
    /// replace their initial values in every replica.
    public func initialize(from tensors: [Safetensors.Tensor]) -> MatchingWeights {
        var result = MatchingWeights()
        for arena in parameterArenas { result = model.layout.loadMatching(tensors, into: arena.pointer) }
        return result
    }
}
