/// Flattens `model.layers` (with block uses) into the list of graph nodes in
/// topological order, resolving every `input`/`inputs` name to a node index.
struct GraphExpander {
    let blocks: [String: BlockDefinition]
    /// `remove_layers` names not met yet.
    var removed: Set<String>
    private(set) var entries: [ModelSpec.LayerEntry] = []
    private var fullNames: Set<String> = []

    /// Blocks may use blocks; deeper nesting than this is surely a mistake.
    static let maxDepth = 16
    /// Repeats multiply through nesting; a model this large is a typo, and
    /// must be reported rather than expanded until memory runs out.
    static let maxLayers = 100_000

    init(blocks: [String: BlockDefinition], removed: Set<String>) {
        self.blocks = blocks
        self.removed = removed
    }

    /// Expands `list` into `entries`; returns the node the scope outputs
    /// (its last layer). `prefix` is prepended to every name; `in` names
    /// `scopeInput`. `stack` holds the blocks being expanded, to catch recursion.
    mutating func expand(_ list: [ConfigMapping], prefix: String, scopeInput: Int, stack: [String]) throws -> Int {
        var local: [String: Int] = ["in": scopeInput]
        var previous = scopeInput
        for (position, lm) in list.enumerated() {
            let name = try lm.optionalString("name") ?? String(position)
            if name == "in" { throw try lm.require("name").error("'in' is reserved for the input of the enclosing block or model") }
            let full = prefix + name
            if lm.has("block") {
                let source = try reference(lm, key: "input", local: local, default: previous)
                let outputs = try expandBlockUse(lm, name: full, source: source, stack: stack)
                // `N.k` names repetition k's output (`N` the last one's).
                for (label, node) in outputs.repetitions { local[name + "." + label] = node }
                previous = outputs.last
            } else {
                let type = try lm.string("type", oneOf: LayerRegistry.typeNames)
                let sources: [Int]
                if LayerRegistry.joinTypes.contains(type) {
                    let list = try lm.require("inputs")
                    sources = try list.sequence().map { try resolve($0, local: local) }
                    lm.record("inputs", list.node)
                } else {
                    sources = [try reference(lm, key: "input", local: local, default: previous)]
                }
                let factory = try LayerRegistry.parsers[type]!(lm)  // validated even when removed
                try lm.finish()
                if removed.remove(full) != nil {
                    guard sources.count == 1 else { throw lm.value.error("cannot remove '\(full)': a \(type) joins several inputs") }
                    previous = sources[0]
                } else {
                    guard fullNames.insert(full).inserted else { throw lm.value.error("duplicate layer name '\(full)'") }
                    guard entries.count < Self.maxLayers else {
                        throw lm.value.error("the model expands to more than \(Self.maxLayers) layers (check the repeat counts)")
                    }
                    entries.append(ModelSpec.LayerEntry(name: full, type: type, origin: lm.value, factory: factory,
                                                        inputs: sources, expanded: !stack.isEmpty))
                    previous = entries.count - 1
                }
            }
            local[name] = previous
        }
        return previous
    }

    /// `{name, block, repeat, start, with, first, input}`: R chained copies.
    /// Returns the output node of each numbered repetition and of the last.
    private mutating func expandBlockUse(_ lm: ConfigMapping, name: String, source: Int, stack: [String]) throws
        -> (repetitions: [(String, Int)], last: Int) {
        let blockValue = try lm.require("block")
        let blockName = try blockValue.string()
        lm.record("block", blockValue.node)
        guard let block = blocks[blockName] else {
            throw blockValue.error("no block named '\(blockName)' (model.blocks defines: \(blocks.keys.sorted().joined(separator: ", ")))")
        }
        guard !stack.contains(blockName) else {
            throw blockValue.error("block '\(blockName)' uses itself (\((stack + [blockName]).joined(separator: " -> ")))")
        }
        guard stack.count < Self.maxDepth else {
            throw blockValue.error("blocks nest deeper than \(Self.maxDepth) (\((stack + [blockName]).joined(separator: " -> ")))")
        }
        let repeats = try lm.int("repeat", default: 1, 1...100_000)
        let start = try lm.int("start", default: 0, 0...1_000_000)
        let with = lm.optional("with"), first = lm.optional("first")
        if let with { lm.record("with", with.node) }
        if let first { lm.record("first", first.node) }
        try lm.finish()
        if removed.remove(name) != nil { return ([], source) }
        var output = source
        var repetitions: [(String, Int)] = []
        for r in 0..<repeats {
            let numbered = !(repeats == 1 && start == 0)
            let scope = numbered ? "\(name).\(start + r)" : name
            let args = try block.arguments(with: with, first: r == 0 ? first : nil, site: lm)
            output = try expand(try block.layers(substituting: args), prefix: scope + ".", scopeInput: output,
                                stack: stack + [blockName])
            if numbered { repetitions.append((String(start + r), output)) }
        }
        return (repetitions, output)
    }

    /// The node named by `key` (absent: `default`).
    private func reference(_ lm: ConfigMapping, key: String, local: [String: Int], default def: Int) throws -> Int {
        guard let v = lm.optional(key) else { return def }
        lm.record(key, v.node)
        return try resolve(v, local: local)
    }

    private func resolve(_ v: ConfigValue, local: [String: Int]) throws -> Int {
        let name = try v.string()
        guard let index = local[name] else {
            let known = local.keys.sorted().joined(separator: ", ")
            throw v.error("no earlier layer named '\(name)' in this scope (known: \(known))")
        }
        return index
    }

    /// Every layer but the last must be read by some layer: a dangling
    /// branch is a config mistake, not something to train silently.
    func checkEveryLayerFeedsTheOutput() throws {
        var read = [Bool](repeating: false, count: entries.count)
        for e in entries { for j in e.inputs where j >= 0 { read[j] = true } }
        if let dangling = read.indices.dropLast().first(where: { !read[$0] }) {
            let e = entries[dangling]
            throw e.origin.error("the output of '\(e.name)' (\(e.type)) is never used; name it in a later layer's input or inputs")
        }
    }
}
