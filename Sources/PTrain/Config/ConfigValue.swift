import Yams

/// One YAML node with where it came from, so every error can name the file,
/// line, column and dotted key path (`train.optimizer.lr`).
public struct ConfigValue {
    public let node: Node
    /// Dotted path with list indices, e.g. `model.layers[2].kernel`.
    public let path: String
    /// The config file's name as the user gave it.
    public let file: String

    /// `file:line:col` for nodes from the file, `file (--set)` for overrides.
    public var location: String {
        if let mark = node.mark { return "\(file):\(mark.line):\(mark.column)" }
        return "\(file) (--set \(path))"
    }

    /// The key path for messages: `top level` for the document itself.
    public var pathName: String { path.isEmpty ? "top level" : path }

    /// `location: path: message`.
    public func error(_ message: String) -> ConfigError { ConfigError("\(location): \(pathName): \(message)") }

    /// `expected X, found Y` error.
    public func mismatch(_ expected: String) -> ConfigError { error("expected \(expected), found \(foundDescription)") }

    /// How the node reads to a user: a quoted scalar, "a list of 3 items", "a mapping".
    public var foundDescription: String {
        switch node {
        case .scalar(let s): return isNull ? "null" : "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence(let s): return "a list of \(s.count) item\(s.count == 1 ? "" : "s")"
        case .alias: return "an alias"
        }
    }

    var plainScalar: String? {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return nil }
        return s.string
    }

    public var isNull: Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    public func int(_ range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard let text = plainScalar, let v = Int(text.replacingUnderscores) else {
            throw mismatch("an integer\(rangeText(range))")
        }
        guard range.contains(v) else { throw mismatch("an integer\(rangeText(range))") }
        return v
    }

    public func double(_ range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude,
                       openLower: Bool = false) throws -> Double {
        let expected = "a number" + rangeText(range, openLower: openLower)
        guard let text = plainScalar, let v = Double(text.replacingUnderscores), v.isFinite else { throw mismatch(expected) }
        guard range.contains(v), !(openLower && v == range.lowerBound) else { throw mismatch(expected) }
        return v
    }

    public func bool() throws -> Bool {
        switch plainScalar {
        case "true", "True", "yes": return true
        case "false", "False", "no": return false
        default: throw mismatch("true or false")
        }
    }

    public func string(oneOf choices: [String]? = nil) throws -> String {
        guard case .scalar(let s) = node, !isNull else {
            throw mismatch(choices.map { "one of: \($0.joined(separator: ", "))" } ?? "a string")
        }
        if let choices, !choices.contains(s.string) {
            throw mismatch("one of: \(choices.joined(separator: ", "))")
        }
        return s.string
    }

    public func sequence() throws -> [ConfigValue] {
        guard case .sequence(let seq) = node else { throw mismatch("a list") }
        return seq.enumerated().map { ConfigValue(node: $1, path: "\(path)[\($0)]", file: file) }
    }

    public func mapping() throws -> ConfigMapping {
        guard case .mapping = node else { throw mismatch("a mapping") }
        return try ConfigMapping(self)
    }

    /// An integer `n` (meaning `n x n`) or a list `[h, w]`.
    public func intPair(_ range: ClosedRange<Int>) throws -> (Int, Int) {
        if case .sequence(let seq) = node {
            guard seq.count == 2 else { throw mismatch("an integer or a list [height, width]") }
            let items = try sequence()
            return (try items[0].int(range), try items[1].int(range))
        }
        let v = try int(range)
        return (v, v)
    }

    public func doubles(_ range: ClosedRange<Double>, count: Int? = nil) throws -> [Double] {
        let items = try sequence()
        if let count, items.count != count { throw mismatch("a list of \(count) numbers") }
        return try items.map { try $0.double(range) }
    }

    public func ints(_ range: ClosedRange<Int>) throws -> [Int] { try sequence().map { try $0.int(range) } }
}

private func rangeText<T: Comparable & Numeric>(_ r: ClosedRange<T>, openLower: Bool = false) -> String
where T: CustomStringConvertible {
    let lowerOpen = isExtreme(r.lowerBound, lower: true)
    let upperOpen = isExtreme(r.upperBound, lower: false)
    let op = openLower ? ">" : ">="
    switch (lowerOpen, upperOpen) {
    case (true, true): return ""
    case (false, true): return " \(op) \(r.lowerBound)"
    case (true, false): return " <= \(r.upperBound)"
    case (false, false): return " in \(openLower ? "(" : "[")\(r.lowerBound), \(r.upperBound)]"
    }
}

private func isExtreme<T>(_ v: T, lower: Bool) -> Bool {
    if let i = v as? Int { return lower ? i == Int.min : i == Int.max }
    if let d = v as? Double { return abs(d) == Double.greatestFiniteMagnitude }
    return false
}

extension String {
    /// YAML allows `60_000`; Swift's parsers do not.
    var replacingUnderscores: String { contains("_") ? filter { $0 != "_" } : self }
}
