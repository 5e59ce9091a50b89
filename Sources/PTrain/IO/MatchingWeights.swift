/// Fine-tuning's partial load (`train.init_from`): the tensors of a weights
/// file that match the model's parameters by name and shape, and an account
/// of the ones that do not.
public struct MatchingWeights: Sendable, Equatable, Codable {
    /// Parameters loaded, in arena order.
    public var loaded: [String] = []
    /// One line per tensor not loaded, model's parameters in arena order
    /// first, then the file's extra tensors in file order:
    /// `missing in the file: 'NAME' [shape]`,
    /// `shape differs: 'NAME': the model has [a], the file [b]`,
    /// `not in the model: 'NAME' [shape]`.
    public var notLoaded: [String] = []

    public init() {}

    private enum CodingKeys: String, CodingKey { case loaded, notLoaded = "not_loaded" }
}

extension ParameterLayout {
    /// Copies every tensor of `tensors` whose name and shape match a
    /// parameter into `arena`, leaving the others as they are. Running
    /// statistics count as parameters (they are in `weights.safetensors`).
    public func loadMatching(_ tensors: [Safetensors.Tensor], into arena: UnsafeMutablePointer<Float>) -> MatchingWeights {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var result = MatchingWeights()
        for e in entries {
            guard let t = byName[e.name] else { result.notLoaded.append("missing in the file: '\(e.name)' \(e.shape)"); continue }
            guard t.shape == e.shape else {
                result.notLoaded.append("shape differs: '\(e.name)': the model has \(e.shape), the file \(t.shape)")
                continue
            }
            t.values.withUnsafeBufferPointer { (arena + e.offset).update(from: $0.baseAddress!, count: e.count) }
            result.loaded.append(e.name)
        }
        let known = Set(entries.map(\.name))
        for t in tensors where !known.contains(t.name) { result.notLoaded.append("not in the model: '\(t.name)' \(t.shape)") }
        return result
    }
}
