import Foundation
import Yams

/// A whole run, strictly decoded from YAML (+ `--set` overrides).
public struct RunConfig {
    public var name: String
    public var seed: UInt64
    public var data: DataConfig
    public var model: ModelSpec
    public var train: TrainConfig
    public var runtime: RuntimeConfig
    public var checkpoint: CheckpointConfig
    /// The config as decoded, every default filled in (YAML text).
    public var resolvedYAML: String
    /// The file it came from, as given.
    public var file: String
    /// The resolved `model:` section alone (resume compares it).
    public var resolvedModelYAML: String

    /// Reads, overrides and decodes `file`. Every problem is a `ConfigError`
    /// naming the file, line and key.
    public static func load(file: String, overrides: [String] = []) throws -> RunConfig {
        let text = try ConfigFile.text(file) { ConfigError("\(file): cannot read the config file (\($0))") }
        let root = try ConfigInheritance.resolve(try compose(text, file: file), file: file)
        return try parse(root: root, file: file, overrides: overrides)
    }

    /// Decodes YAML text (no `base:` inheritance: that needs files; see `load`).
    public static func parse(yaml text: String, file: String, overrides: [String] = []) throws -> RunConfig {
        try parse(root: try compose(text, file: file), file: file, overrides: overrides)
    }

    /// YAML text -> node tree, with libyaml's errors located.
    static func compose(_ text: String, file: String) throws -> Node {
        do {
            // No node at all (blank, comments only), or a bare `---` / `~`: no keys to read.
            guard let node = try Yams.compose(yaml: text),
                  !ConfigValue(node: node, path: "", file: file).isNull else { throw ConfigError("\(file): the document is empty") }
            return node
        } catch let e as ConfigError {
            throw e
        } catch let e as YamlError {
            throw ConfigError(yamlErrorMessage(e, file: file))
        } catch {
            throw ConfigError("\(file): not valid YAML: \(error)")
        }
    }

    private static func parse(root: Node, file: String, overrides: [String]) throws -> RunConfig {
        let root = try ConfigOverrides.apply(overrides, to: root)
        let top = try ConfigValue(node: root, path: "", file: file).mapping()
        return try decode(top, file: file)
    }

    /// Decodes every section in file order; the resolved YAML lists the keys in that order.
    private static func decode(_ top: ConfigMapping, file: String) throws -> RunConfig {
        let name = try top.string("name", default: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent)
        let seed = UInt64(try top.int("seed", default: 1, 0...Int.max))
        let d = try top.mapping("data")
        let data = try DataConfig.decode(d)
        let mm = try top.requiredMapping("model")
        let model = try ModelSpec.parse(mm)
        try data.checkChannels(of: model, in: d)
        let built = try model.build()  // shape errors now, with their YAML locations
        let train = try TrainConfig.decode(try top.mapping("train"), model: built)
        let runtime = try RuntimeConfig.decode(try top.mapping("runtime"), batch: train.batch)
        let checkpoint = try CheckpointConfig.decode(try top.mapping("checkpoint"))
        try top.finish()
        if train.architecture != nil && runtime.syncEvery > 1 {
            throw ConfigError("\(file): train.architecture: a bilevel search runs synchronous SGD (one set of weights the architecture is judged on); runtime.sync.every is \(runtime.syncEvery)")
        }

        let resolved = (try? Yams.serialize(node: top.resolvedNode)) ?? ""
        return RunConfig(name: name, seed: seed, data: data, model: model, train: train, runtime: runtime,
                         checkpoint: checkpoint, resolvedYAML: resolved, file: file,
                         resolvedModelYAML: (try? Yams.serialize(node: mm.resolvedNode)) ?? "")
    }
}

/// libyaml's message with its line and column, without Swift type noise.
private func yamlErrorMessage(_ e: YamlError, file: String) -> String {
    switch e {
    case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
         .composer(let context, let problem, let mark, _):
        return "\(file): not valid YAML: line \(mark.line), column \(mark.column): \(problem)\(context.map { " (\($0.text))" } ?? "")"
    case .duplicatedKeysInMapping(let duplicates, let context):
        let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
        return "\(file):\(context.mark.line): duplicate key \(keys) (a key may appear once per mapping)"
    default:
        return "\(file): not valid YAML: \(e)"
    }
}
