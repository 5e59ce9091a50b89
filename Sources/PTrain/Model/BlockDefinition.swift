import Yams

/// A reusable group of layers under `model.blocks`:
///
///     blocks:
///       basic:
///         params: {channels: ~, stride: 1}    # ~ (null): required
///         layers:
///           - {name: conv1, type: conv2d, filters: $channels, kernel: 3, stride: $stride, padding: 1}
///           ...
///
/// A scalar `$p` anywhere in the block's layers stands for parameter p; an
/// expansion substitutes the value given at the use site (so an error in it
/// points at the use site's line).
struct BlockDefinition {
    let name: String
    let value: ConfigValue
    /// Parameters in declaration order with their defaults (nil: required).
    let parameters: [(name: String, defaultValue: ConfigValue?)]
    let layers: [ConfigValue]

    init(name: String, value: ConfigValue) throws {
        self.name = name
        self.value = value
        let m = try value.mapping()
        parameters = try m.optional("params")?.mapping().allValues().map { ($0.key, $0.value.isNull ? nil : $0.value) } ?? []
        let layersValue = try m.require("layers")
        layers = try layersValue.sequence()
        guard !layers.isEmpty else { throw layersValue.error("a block needs at least one layer") }
        try m.finish()
    }

    var parameterList: String { parameters.isEmpty ? "none" : parameters.map(\.name).joined(separator: ", ") }

    /// The parameter values of one expansion: defaults, then `with`, then
    /// `first` (nil except for a first repetition). `site` is the using entry.
    func arguments(with: ConfigValue?, first: ConfigValue?, site: ConfigMapping) throws -> [String: ConfigValue] {
        var args: [String: ConfigValue] = [:]
        for p in parameters { args[p.name] = p.defaultValue }
        for given in [with, first].compactMap({ $0 }) {
            for (key, v) in try given.mapping().allValues() {
                guard parameters.contains(where: { $0.name == key }) else {
                    throw v.error("block '\(name)' has no parameter '\(key)' (parameters: \(parameterList))")
                }
                args[key] = v
            }
        }
        if let missing = parameters.first(where: { args[$0.name] == nil }) {
            throw site.value.error("block '\(name)' needs a value for its parameter '\(missing.name)' (give it in 'with')")
        }
        return args
    }

    /// The block's layer entries with every `$p` replaced by its argument.
    func layers(substituting args: [String: ConfigValue]) throws -> [ConfigMapping] {
        try layers.map { layer in
            let node = try substitute(layer.node, at: layer, args)
            return try ConfigValue(node: node, path: layer.path, file: layer.file).mapping()
        }
    }

    private func substitute(_ node: Node, at site: ConfigValue, _ args: [String: ConfigValue]) throws -> Node {
        switch node {
        case .scalar(let s) where s.string.hasPrefix("$") && (s.style == .plain || s.style == .any):
            let key = String(s.string.dropFirst())
            guard let v = args[key] else {
                throw ConfigValue(node: node, path: site.path, file: site.file)
                    .error("'\(s.string)' is not a parameter of block '\(name)' (parameters: \(parameterList))")
            }
            return v.node
        case .mapping(let m):
            return .mapping(Node.Mapping(try m.map { ($0.key, try substitute($0.value, at: site, args)) }, m.tag, m.style, m.mark))
        case .sequence(let q):
            return .sequence(Node.Sequence(try q.map { try substitute($0, at: site, args) }, q.tag, q.style, q.mark))
        default:
            return node
        }
    }
}
