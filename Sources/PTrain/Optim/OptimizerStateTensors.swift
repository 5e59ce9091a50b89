/// The optimizer state arena (see `ParameterUpdate`) as named tensors, for
/// checkpoints: SGD's momentum under the parameters' own names; Adam's
/// moments under `exp_avg.NAME` and `exp_avg_sq.NAME` (PyTorch's state keys).
extension ParameterUpdate {
    static let firstMomentPrefix = "exp_avg.", secondMomentPrefix = "exp_avg_sq."

    /// One tensor per parameter (two with Adam), in arena order.
    public func stateTensors(from state: UnsafePointer<Float>, layout: ParameterLayout) -> [Safetensors.Tensor] {
        guard sgd.config.isAdam else { return layout.tensors(from: state) }
        func named(_ prefix: String, _ tensors: [Safetensors.Tensor]) -> [Safetensors.Tensor] {
            tensors.map { Safetensors.Tensor(name: prefix + $0.name, shape: $0.shape, values: $0.values) }
        }
        return named(Self.firstMomentPrefix, layout.tensors(from: state))
            + named(Self.secondMomentPrefix, layout.tensors(from: state + arenaCount))
    }

    /// Copies `tensors` into the state arena; every tensor of this
    /// optimizer's state must be there with its shape, and nothing else
    /// (another optimizer's state is refused with what differs).
    public func loadState(_ tensors: [Safetensors.Tensor], into state: UnsafeMutablePointer<Float>,
                          layout: ParameterLayout, file: String) throws {
        guard sgd.config.isAdam else { return try layout.load(tensors, into: state, file: file) }
        func part(_ prefix: String) -> [Safetensors.Tensor] {
            tensors.filter { $0.name.hasPrefix(prefix) }.map {
                Safetensors.Tensor(name: String($0.name.dropFirst(prefix.count)), shape: $0.shape, values: $0.values)
            }
        }
        // Tensors under neither prefix go with the first moments, whose check names them as unexpected.
        let foreign = tensors.filter { !$0.name.hasPrefix(Self.firstMomentPrefix) && !$0.name.hasPrefix(Self.secondMomentPrefix) }
        try layout.load(part(Self.firstMomentPrefix) + foreign, into: state, file: "\(file) (\(Self.firstMomentPrefix)*)")
        try layout.load(part(Self.secondMomentPrefix), into: state + arenaCount, file: "\(file) (\(Self.secondMomentPrefix)*)")
    }
}
