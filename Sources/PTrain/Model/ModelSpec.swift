/// A parsed `model:` section: input shape, loss, and the graph of layers,
/// with every block expanded. `build()` turns it into a `Model` (as often as
/// there are replicas); `RunConfig` builds it once at load so that shape
/// errors surface in `ptrain check`, with the YAML location of the layer.
///
/// Graph syntax (README "Graph models"): a layer reads the layer before it
/// unless it names `input: NAME` (or `inputs: [A, B]` for `add`/`concat`);
/// `in` names the input of the enclosing block (at the top level: the model
/// input). An entry `{name: N, block: B, repeat: R, with: {...}, first: {...}}`
/// expands block B R times in a chain, named `N.0`, `N.1`... (`N` alone when R
/// is 1); `with` sets the block's parameters and `first` overrides some of
/// them for the first repetition only (a stage's strided first block).
public struct ModelSpec {
    public struct LayerEntry {
        /// Full name: the PyTorch state_dict prefix (`layer2.0.conv1`).
        public let name: String
        public let type: String
        /// `file:line:col: path` of the layer's entry, for errors.
        public let origin: ConfigValue
        public let factory: NodeFactory
        /// Nodes the layer reads (indices into the expanded list; -1: model input).
        public let inputs: [Int]
        /// True for layers that come from a block (errors then name the layer).
        public let expanded: Bool
    }

    public let inputShape: TensorShape
    public let loss: LossKind
    public let layers: [LayerEntry]

    public init(inputShape: TensorShape, loss: LossKind, layers: [LayerEntry]) {
        self.inputShape = inputShape; self.loss = loss; self.layers = layers
    }

    /// Parses `model:` (keys `input`, `layers`, `blocks`, `loss`, `remove_layers`).
    public static func parse(_ m: ConfigMapping) throws -> ModelSpec {
        let inputValue = try m.require("input")
        let dims = try inputValue.ints(1...100_000)
        guard (1...3).contains(dims.count) else { throw inputValue.mismatch("[channels, height, width], [channels, length] or [features]") }
        guard dims.reduce(1.0, { $0 * Double($1) }) <= 0x1p31 else {
            throw inputValue.error("a sample of \(dims.map(String.init).joined(separator: "x")) values is beyond ptrain's limit of 2^31")
        }
        let input = dims.count == 3 ? TensorShape(dims[0], dims[1], dims[2])
            : dims.count == 2 ? TensorShape(dims[0], 1, dims[1]) : TensorShape(dims[0])
        m.record("input", inputValue.node)
        let loss = LossKind(rawValue: try m.string("loss", default: LossKind.softmaxCrossEntropy.rawValue,
                                                   oneOf: LossKind.allCases.map(\.rawValue)))!
        // Ablations: named layers dropped from the graph (for example after `base:`).
        let removeValue = m.optional("remove_layers")
        let removed = Set(try removeValue?.sequence().map { try $0.string() } ?? [])
        if let removeValue { m.record("remove_layers", removeValue.node) }
        var blocks: [String: BlockDefinition] = [:]
        if let blocksValue = m.optional("blocks") {
            for (name, value) in try blocksValue.mapping().allValues() {
                blocks[name] = try BlockDefinition(name: name, value: value)
            }
            m.record("blocks", blocksValue.node)
        }
        var graph = GraphExpander(blocks: blocks, removed: removed)
        let top = try m.mappings("layers")
        _ = try graph.expand(top, prefix: "", scopeInput: -1, stack: [])
        if let missing = graph.removed.sorted().first, let removeValue {
            throw removeValue.error("remove_layers names '\(missing)', but no layer has that name")
        }
        guard !graph.entries.isEmpty else { throw try m.require("layers").error("a model needs at least one layer") }
        try graph.checkEveryLayerFeedsTheOutput()
        try m.finish()
        return ModelSpec(inputShape: input, loss: loss, layers: graph.entries)
    }

    /// Builds the layers in order, each from its inputs' output shapes.
    public func build(classes: Int? = nil) throws -> Model {
        var built: [any Layer] = []
        // A shared tensor's first declaration, which every later one must match.
        var shared: [String: (layer: String, spec: ParameterSpec)] = [:]
        for entry in layers {
            do {
                let shapes = entry.inputs.map { $0 < 0 ? inputShape : built[$0].outputShape }
                built.append(try entry.factory(entry.name, shapes))
                for spec in built.last!.parameterSpecs {
                    guard let key = spec.shared else { continue }
                    if let first = shared[key] {
                        guard first.spec.shape == spec.shape && first.spec.role == spec.role else {
                            throw ShapeError("shares the tensor '\(key)' with \(first.layer), which declares it with shape \(first.spec.shape); here it has shape \(spec.shape)")
                        }
                    } else {
                        shared[key] = (entry.name, spec)
                    }
                }
            } catch let e as ShapeError {
                throw entry.origin.error("\(entry.expanded ? "\(entry.name) " : "")(\(entry.type)) \(e.message)")
            }
        }
        let model = Model(inputShape: inputShape, layers: built, loss: loss, inputs: layers.map(\.inputs))
        if let classes {
            let needed = loss.requiredOutputs(classes: classes)
            if model.outputShape.count != needed {
                throw layers.last!.origin.error("the last layer outputs \(model.outputShape) values but \(loss.rawValue) over \(classes) classes needs \(needed)")
            }
        }
        return model
    }
}
