import Foundation
import Yams

/// `base: OTHER.yaml` at the top of a config: the other file (path relative to
/// this one) is loaded first and this file's keys are merged over it:
/// mappings merge key by key, anything else (numbers, strings, lists) is
/// replaced. Bases may have bases (up to 8 levels, no cycles). Together with
/// `model.remove_layers`, an ablation is a few lines over the model it ablates.
enum ConfigInheritance {
    static func resolve(_ root: Node, file: String, depth: Int = 0, seen: Set<String> = []) throws -> Node {
        guard case .mapping(var mapping) = root, let baseNode = mapping["base"] else { return root }
        guard case .scalar(let scalar) = baseNode else {
            throw ConfigValue(node: baseNode, path: "base", file: file).mismatch("the path of a base config")
        }
        let path = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(scalar.string).standardized.path
        let location = ConfigValue(node: baseNode, path: "base", file: file)
        guard depth < 8, !seen.contains(path) else { throw location.error("base configs form a cycle or are nested deeper than 8") }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw location.error("cannot read the base config \(path)")
        }
        let base = try resolve(try RunConfig.compose(text, file: path), file: path, depth: depth + 1, seen: seen.union([path]))
        mapping["base"] = nil
        return merge(.mapping(mapping), over: base)
    }

    /// `top` merged over `base`.
    static func merge(_ top: Node, over base: Node) -> Node {
        guard case .mapping(let t) = top, case .mapping(var b) = base else { return top }
        for (key, value) in t {
            b[key] = b[key].map { merge(value, over: $0) } ?? value
        }
        return .mapping(b)
    }
}
