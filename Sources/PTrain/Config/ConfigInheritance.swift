import Foundation
import Yams

/// `base: OTHER.yaml` at the top of a config: the other file (an absolute
/// path, or relative to this file's folder) is loaded first and this file's
/// keys are merged over it: mappings merge key by key, anything else
/// (numbers, strings, lists) is replaced. Bases may have bases (up to 8
/// levels, no cycles). Together with `model.remove_layers`, an ablation is a
/// few lines over the model it ablates.
enum ConfigInheritance {
    /// The config `root` read from `file`, its bases merged in.
    static func resolve(_ root: Node, file: String) throws -> Node {
        try resolve(root, file: file, chain: [URL(fileURLWithPath: file).standardized.path])
    }

    /// `chain`: the standardized paths of the files from the top config down
    /// to `file` (the last one), to name a cycle when one closes.
    private static func resolve(_ root: Node, file: String, chain: [String]) throws -> Node {
        guard case .mapping(var mapping) = root, let baseNode = mapping["base"] else { return root }
        let location = ConfigValue(node: baseNode, path: "base", file: file)
        guard case .scalar(let scalar) = baseNode else { throw location.mismatch("the path of a base config") }
        let path = ConfigFile.path(scalar.string, from: file)
        let names = (chain + [path]).map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: " -> ")
        guard !chain.contains(path) else { throw location.error("base configs form a cycle: \(names)") }
        guard chain.count <= 8 else { throw location.error("base configs are nested deeper than 8 levels: \(names)") }
        let text = try ConfigFile.text(path) { location.error("cannot read the base config \(path) (\($0))") }
        let base = try resolve(try RunConfig.compose(text, file: path), file: path, chain: chain + [path])
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
