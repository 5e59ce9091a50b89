import Foundation

/// Moves a model's weights between its flat parameter arena and safetensors
/// tensors named and shaped as in PyTorch's `state_dict`.
extension ParameterLayout {
    /// One tensor per parameter, in arena order.
    public func tensors(from arena: UnsafePointer<Float>) -> [Safetensors.Tensor] {
        entries.map { e in
            Safetensors.Tensor(name: e.name, shape: e.shape,
                               values: Array(UnsafeBufferPointer(start: arena + e.offset, count: e.count)))
        }
    }

    /// Copies `tensors` into the arena. Every parameter must be present with
    /// its exact shape, and nothing else may be there: a checkpoint of a
    /// different model is refused with what differs.
    public func load(_ tensors: [Safetensors.Tensor], into arena: UnsafeMutablePointer<Float>, file: String) throws {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var problems: [String] = []
        for e in entries {
            guard let t = byName[e.name] else { problems.append("missing tensor '\(e.name)' \(e.shape)"); continue }
            if t.shape != e.shape { problems.append("tensor '\(e.name)': the model has shape \(e.shape), the file \(t.shape)") }
        }
        let known = Set(entries.map(\.name))
        for t in tensors where !known.contains(t.name) && !t.name.hasPrefix("__") {
            problems.append("unexpected tensor '\(t.name)' \(t.shape)")
        }
        if !problems.isEmpty {
            let shown = problems.prefix(5).joined(separator: "; ")
            throw ConfigError("\(file): the weights do not match the model: \(shown)\(problems.count > 5 ? "; and \(problems.count - 5) more" : "")")
        }
        for e in entries {
            byName[e.name]!.values.withUnsafeBufferPointer { (arena + e.offset).update(from: $0.baseAddress!, count: e.count) }
        }
    }
}
