import Yams

/// `--set key.path=value` overrides, applied to the YAML tree before decoding,
/// so an override is validated exactly like the file it replaces a value of.
/// Paths are dotted keys; list items are addressed as `layers[3]` or `layers.3`.
/// The value is parsed as YAML (`--set train.epochs=3`, `--set data.normalize.mean=[0.5]`).
public enum ConfigOverrides {
    /// Returns `root` with every override applied, in order.
    public static func apply(_ overrides: [String], to root: Node) throws -> Node {
        var root = root
        for item in overrides {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw ConfigError("--set \(item): expected KEY.PATH=VALUE")
            }
            let path = String(item[..<eq]), text = String(item[item.index(after: eq)...])
            let parsed: Node
            do {
                parsed = try Yams.compose(yaml: text) ?? Node("null")
            } catch {
                throw ConfigError("--set \(path): value '\(text)' is not valid YAML")
            }
            let segments = try parse(path: path)
            root = try set(stripMarks(parsed), at: segments[...], in: root, fullPath: path)
        }
        return root
    }

    private enum Segment { case key(String), index(Int) }

    private static func parse(path: String) throws -> [Segment] {
        var out: [Segment] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            var part = Substring(part)
            guard !part.isEmpty else { throw ConfigError("--set \(path): empty key in path") }
            var key = part
            if let bracket = part.firstIndex(of: "[") { key = part[..<bracket]; part = part[bracket...] } else { part = "" }
            if let i = Int(key) { out.append(.index(i)) } else if !key.isEmpty { out.append(.key(String(key))) }
            while !part.isEmpty {
                guard part.first == "[", let close = part.firstIndex(of: "]"),
                      let i = Int(part[part.index(after: part.startIndex)..<close]) else {
                    throw ConfigError("--set \(path): malformed index in '\(part)'")
                }
                out.append(.index(i))
                part = part[part.index(after: close)...]
            }
        }
        return out
    }

    private static func set(_ value: Node, at path: ArraySlice<Segment>, in node: Node?, fullPath: String) throws -> Node {
        guard let first = path.first else { return value }
        switch first {
        case .key(let key):
            var mapping: Node.Mapping
            switch node {
            case .mapping(let m)?: mapping = m
            case nil: mapping = Node.Mapping([])
            case .scalar(let s)? where ["", "~", "null"].contains(s.string): mapping = Node.Mapping([])
            default: throw ConfigError("--set \(fullPath): '\(key)' is inside a value that is not a mapping")
            }
            mapping[key] = try set(value, at: path.dropFirst(), in: mapping[key], fullPath: fullPath)
            return .mapping(mapping)
        case .index(let i):
            guard case .sequence(var seq)? = node else {
                throw ConfigError("--set \(fullPath): index [\(i)] applied to a value that is not a list")
            }
            guard i >= 0 && i < seq.count else {
                throw ConfigError("--set \(fullPath): index [\(i)] out of range (the list has \(seq.count) items)")
            }
            let index = seq.index(seq.startIndex, offsetBy: i)
            seq[index] = try set(value, at: path.dropFirst(), in: seq[index], fullPath: fullPath)
            return .sequence(seq)
        }
    }

    /// Nodes parsed from the command line carry marks relative to the VALUE
    /// string; drop them so errors say "(--set ...)" instead of a wrong line.
    private static func stripMarks(_ node: Node) -> Node {
        switch node {
        case .scalar(let s): return Node(s.string, s.tag, s.style == .plain ? .any : s.style)
        case .mapping(let m): return Node(m.map { (stripMarks($0.key), stripMarks($0.value)) }, m.tag, m.style)
        case .sequence(let s): return Node(s.map(stripMarks), s.tag, s.style)
        case .alias: return node
        }
    }
}
