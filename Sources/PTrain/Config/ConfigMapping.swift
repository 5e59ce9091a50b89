import Yams

/// A cursor over one YAML mapping that decodes it strictly: every key must be
/// read by the decoder, or `finish()` reports it as unknown. It also records
/// every value it hands out, defaults included, to rebuild the RESOLVED config
/// (written into each run directory and checkpoint).
public final class ConfigMapping {
    public let value: ConfigValue
    private var pairs: [(key: String, value: Node, keyNode: Node)] = []
    private var read: Set<String> = []
    private enum Resolved { case node(Node), child(ConfigMapping), children([ConfigMapping]) }
    private var resolved: [(String, Resolved)] = []

    public var path: String { value.path }

    init(_ value: ConfigValue) throws {
        self.value = value
        guard case .mapping(let m) = value.node else { throw value.mismatch("a mapping") }
        // (Duplicate keys are rejected by the YAML composer already.)
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw value.error("mapping keys must be plain strings") }
            pairs.append((ks.string, v, k))
        }
    }

    /// The top-level mapping of a YAML document (for files other than run
    /// configs, such as search files), with the same located errors.
    public static func document(yaml text: String, file: String) throws -> ConfigMapping {
        try ConfigMapping(ConfigValue(node: try RunConfig.compose(text, file: file), path: "", file: file))
    }

    /// An empty mapping standing for an absent section, located at its parent.
    init(absent key: String, in parent: ConfigMapping) {
        value = ConfigValue(node: Node([(Node, Node)]()), path: parent.childPath(key), file: parent.value.file)
    }

    func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func has(_ key: String) -> Bool { pairs.contains { $0.key == key } }

    /// Every key with its value, in file order, all marked read (for mappings
    /// whose keys are user-chosen names, such as block parameters).
    public func allValues() -> [(key: String, value: ConfigValue)] {
        pairs.map { pair in
            read.insert(pair.key)
            return (pair.key, ConfigValue(node: pair.value, path: childPath(pair.key), file: value.file))
        }
    }

    /// The raw value under `key`, marking it read; nil when absent or null.
    public func optional(_ key: String) -> ConfigValue? {
        read.insert(key)
        guard let pair = pairs.last(where: { $0.key == key }) else { return nil }
        let v = ConfigValue(node: pair.value, path: childPath(key), file: value.file)
        return v.isNull ? nil : v
    }

    /// The value under `key`, or an error naming the missing key (`what`:
    /// `key`, or `section` for a mapping that must be there).
    public func require(_ key: String, what: String = "key") throws -> ConfigValue {
        guard let v = optional(key) else {
            let location = value.node.mark.map { "\(value.file):\($0.line):\($0.column)" } ?? value.file
            var hint = ""
            if let typo = pairs.first(where: { !read.contains($0.key) && editDistance($0.key, key) <= 2 }) {
                hint = " (is '\(typo.key)'\(typo.keyNode.mark.map { " at line \($0.line)" } ?? "") a typo?)"
            }
            throw ConfigError("\(location): \(value.pathName): missing required \(what) '\(key)'\(hint)")
        }
        return v
    }

    /// Records a value for the resolved config.
    public func record(_ key: String, _ node: Node) { resolved.append((key, .node(node))) }

    // MARK: typed accessors: the value if present, else the default (nil default = required)

    public func int(_ key: String, default def: Int? = nil, _ range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        let v: Int
        if let raw = optional(key) { v = try raw.int(range) } else if let def { v = def } else { throw try missing(key) }
        record(key, Node(String(v)))
        return v
    }

    public func optionalInt(_ key: String, _ range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
        guard let raw = optional(key) else { return nil }
        let v = try raw.int(range)
        record(key, Node(String(v)))
        return v
    }

    public func double(_ key: String, default def: Double? = nil,
                       _ range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude,
                       openLower: Bool = false) throws -> Double {
        let v: Double
        if let raw = optional(key) { v = try raw.double(range, openLower: openLower) } else if let def { v = def } else { throw try missing(key) }
        record(key, Node(String(v)))
        return v
    }

    public func bool(_ key: String, default def: Bool) throws -> Bool {
        let v = try optional(key)?.bool() ?? def
        record(key, Node(v ? "true" : "false"))
        return v
    }

    public func string(_ key: String, default def: String? = nil, oneOf choices: [String]? = nil) throws -> String {
        let v: String
        if let raw = optional(key) { v = try raw.string(oneOf: choices) } else if let def { v = def } else { throw try missing(key) }
        record(key, Node(v))
        return v
    }

    public func optionalString(_ key: String) throws -> String? {
        guard let raw = optional(key) else { return nil }
        let v = try raw.string()
        record(key, Node(v))
        return v
    }

    /// `n` or `[h, w]`.
    public func intPair(_ key: String, default def: (Int, Int)? = nil, _ range: ClosedRange<Int>) throws -> (Int, Int) {
        let v: (Int, Int)
        if let raw = optional(key) { v = try raw.intPair(range) } else if let def { v = def } else { throw try missing(key) }
        record(key, v.0 == v.1 ? Node(String(v.0)) : Node([Node(String(v.0)), Node(String(v.1))], .implicit, .flow))
        return v
    }

    public func doubles(_ key: String, _ range: ClosedRange<Double>, count: Int? = nil) throws -> [Double]? {
        guard let raw = optional(key) else { return nil }
        let v = try raw.doubles(range, count: count)
        record(key, Node(v.map { Node(String($0)) }, .implicit, .flow))
        return v
    }

    public func ints(_ key: String, _ range: ClosedRange<Int>) throws -> [Int]? {
        guard let raw = optional(key) else { return nil }
        let v = try raw.ints(range)
        record(key, Node(v.map { Node(String($0)) }, .implicit, .flow))
        return v
    }

    /// The nested mapping under `key` (an empty one when absent).
    public func mapping(_ key: String) throws -> ConfigMapping {
        let child = try optional(key)?.mapping() ?? ConfigMapping(absent: key, in: self)
        resolved.append((key, .child(child)))
        return child
    }

    /// The nested mapping under `key`, which must be there: a missing section
    /// is reported as such, not as the first key it would have held.
    public func requiredMapping(_ key: String) throws -> ConfigMapping {
        let child = try require(key, what: "section").mapping()
        resolved.append((key, .child(child)))
        return child
    }

    /// The list of mappings under `key` (required).
    public func mappings(_ key: String) throws -> [ConfigMapping] {
        let children = try require(key).sequence().map { try $0.mapping() }
        resolved.append((key, .children(children)))
        return children
    }

    private func missing(_ key: String) throws -> ConfigError {
        do { _ = try require(key) } catch let e as ConfigError { return e }
        return ConfigError("\(path): missing required key '\(key)'")
    }

    /// Rejects keys nobody read: a typo is an error, never a silent default.
    public func finish() throws {
        for pair in pairs where !read.contains(pair.key) {
            let known = read.sorted()
            let guess = known.min { editDistance($0, pair.key) < editDistance($1, pair.key) }
            var message = "unknown key"
            if let guess, editDistance(guess, pair.key) <= max(2, pair.key.count / 3) { message += "; did you mean '\(guess)'?" }
            if !known.isEmpty { message += " (expected one of: \(known.joined(separator: ", ")))" }
            throw ConfigValue(node: pair.keyNode, path: childPath(pair.key), file: value.file).error(message)
        }
    }

    /// The mapping as decoded, defaults filled in.
    public var resolvedNode: Node {
        Node(resolved.map { key, r -> (Node, Node) in
            switch r {
            case .node(let n): return (Node(key), n)
            case .child(let c): return (Node(key), c.resolvedNode)
            case .children(let cs): return (Node(key), Node(cs.map(\.resolvedNode)))
            }
        })
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var prev = row[0]
        row[0] = i
        for j in 1...b.count {
            let cur = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
            prev = cur
        }
    }
    return row[b.count]
}

// `n...` ranges read as `n...Int.max`.
extension ConfigMapping {
    public func int(_ key: String, default def: Int? = nil, _ range: PartialRangeFrom<Int>) throws -> Int {
        try int(key, default: def, range.lowerBound...Int.max)
    }
    public func optionalInt(_ key: String, _ range: PartialRangeFrom<Int>) throws -> Int? {
        try optionalInt(key, range.lowerBound...Int.max)
    }
    public func intPair(_ key: String, default def: (Int, Int)? = nil, _ range: PartialRangeFrom<Int>) throws -> (Int, Int) {
        try intPair(key, default: def, range.lowerBound...Int.max)
    }
}
