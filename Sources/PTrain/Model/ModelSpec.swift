/// A parsed `model:` section: input shape, loss, and a factory per layer.
/// `build()` turns it into a `Model` (as often as there are replicas);
/// `RunConfig` builds it once at load so that shape errors surface in
/// `ptrain check`, with the YAML location of the offending layer.
public struct ModelSpec {
    public struct LayerEntry {
        public let name: String
        public let type: String
        /// `file:line:col: model.layers[i]` of the layer's entry, for errors.
        public let origin: ConfigValue
        public let factory: LayerFactory
    }

    public let inputShape: TensorShape
    public let loss: LossKind
    public let layers: [LayerEntry]

    public init(inputShape: TensorShape, loss: LossKind, layers: [LayerEntry]) {
        self.inputShape = inputShape; self.loss = loss; self.layers = layers
    }

    /// Parses `model:` (keys `input`, `layers`, `loss`).
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
        // Ablations: named layers dropped from the list (for example after `base:`).
        let removeValue = m.optional("remove_layers")
        var removed = Set(try removeValue?.sequence().map { try $0.string() } ?? [])
        if let removeValue { m.record("remove_layers", removeValue.node) }
        var entries: [LayerEntry] = []
        var names: Set<String> = []
        for (position, lm) in try m.mappings("layers").enumerated() {
            let type = try lm.string("type", oneOf: LayerRegistry.typeNames)
            // The default name is the layer's position in the list as written
            // (PyTorch's nn.Sequential numbering), also for remove_layers.
            let name = try lm.optionalString("name") ?? String(position)
            if removed.remove(name) != nil {
                _ = try LayerRegistry.parsers[type]!(lm)  // still validated
                try lm.finish()
                continue
            }
            guard names.insert(name).inserted else { throw lm.value.error("duplicate layer name '\(name)'") }
            let factory = try LayerRegistry.parsers[type]!(lm)
            try lm.finish()
            entries.append(LayerEntry(name: name, type: type, origin: lm.value, factory: factory))
        }
        if let missing = removed.sorted().first, let removeValue {
            throw removeValue.error("remove_layers names '\(missing)', but no layer has that name")
        }
        guard !entries.isEmpty else { throw try m.require("layers").error("a model needs at least one layer") }
        try m.finish()
        return ModelSpec(inputShape: input, loss: loss, layers: entries)
    }

    /// Builds the layers in order, each from the previous one's output shape.
    public func build(classes: Int? = nil) throws -> Model {
        var shape = inputShape
        var built: [any Layer] = []
        for entry in layers {
            do {
                let layer = try entry.factory(entry.name, shape)
                built.append(layer)
                shape = layer.outputShape
            } catch let e as ShapeError {
                throw entry.origin.error("(\(entry.type)) \(e.message)")
            }
        }
        let model = Model(inputShape: inputShape, layers: built, loss: loss)
        if let classes {
            let needed = loss.requiredOutputs(classes: classes)
            if model.outputShape.count != needed {
                throw layers.last!.origin.error("the last layer outputs \(model.outputShape) values but \(loss.rawValue) over \(classes) classes needs \(needed)")
            }
        }
        return model
    }
}
