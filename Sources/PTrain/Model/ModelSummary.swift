import Foundation

/// The layer table of a model: output shape, parameters and forward FLOPs per
/// sample of every layer, and totals. Computed from shapes alone.
public struct ModelSummary: Sendable {
    public struct Row: Sendable, Codable {
        public let name: String
        public let type: String
        public let detail: String
        public let output: [Int]
        public let params: Int
        public let flops: Int
        /// Names of the nodes the layer reads (`input`: the model input).
        public let inputs: [String]
    }

    public let input: [Int]
    public let rows: [Row]
    public let params: Int
    public let flops: Int

    /// True when some layer reads anything but the layer before it.
    public let isGraph: Bool
    /// Activation floats stored per sample (in-place concatenation), and
    /// what separate buffers for every layer would take.
    public let activations: Int, separateActivations: Int
    /// Activation-gradient floats per sample a training network stores (and
    /// the activations of an inference-only network).
    public let activationGradients: Int

    public init(model: Model) {
        input = model.inputShape.dimensions
        let layers = model.layers
        let rectifies = StoragePlan(model: model).rectifies
        rows = layers.indices.map { i in
            let l = layers[i]
            // A fused relu is part of its producer's pass (StoragePlan).
            let fused = l is ReLU && model.inputs[i][0] >= 0 && rectifies[model.inputs[i][0]]
            return Row(name: l.name, type: l.typeName, detail: fused ? "fused" : l.detail, output: l.outputShape.dimensions,
                       params: l.parameterCount, flops: l.forwardFLOPs,
                       inputs: model.inputs[i].map { $0 < 0 ? "input" : layers[$0].name })
        }
        isGraph = !model.isSequential
        activations = model.storedActivationsPerSample
        separateActivations = model.separateActivationsPerSample
        activationGradients = model.sharedBuffersPerSample
        params = model.parameterCount
        flops = model.forwardFLOPs
    }

    /// Fixed-width table for terminals and logs. A graph model gets a last
    /// column naming the inputs of every layer that does not simply read the
    /// one above it (the expanded graph, blocks included).
    public var table: String {
        let nameWidth = max(8, rows.reduce(0) { max($0, $1.name.count) } + 1)
        let typeWidth = max(10, rows.reduce(0) { max($0, $1.type.count) } + 1)
        var lines = [pad("layer", nameWidth) + pad("type", typeWidth) + pad("config", 22) + pad("output", 14, right: true)
                     + pad("params", 14, right: true) + pad("MFLOP/sample", 14, right: true) + (isGraph ? "  inputs" : "")]
        lines.append(pad("input", nameWidth) + pad("", typeWidth + 22) + pad(input.map(String.init).joined(separator: "x"), 14, right: true))
        for (i, r) in rows.enumerated() {
            let previous = i == 0 ? "input" : rows[i - 1].name
            let inputs = isGraph && r.inputs != [previous] ? "  <- " + r.inputs.joined(separator: ", ") : ""
            lines.append(pad(r.name, nameWidth) + pad(r.type, typeWidth) + pad(r.detail, 22)
                         + pad(r.output.map(String.init).joined(separator: "x"), 14, right: true)
                         + pad(grouped(r.params), 14, right: true) + pad(String(format: "%.3f", Double(r.flops) / 1e6), 14, right: true)
                         + inputs)
        }
        lines.append("total: \(grouped(params)) parameters, \(String(format: "%.3f", Double(flops) / 1e6)) MFLOP forward per sample")
        var memory = String(format: "memory per sample: training %.2f MB (activations %@ floats, their gradients %@ in shared buffers), inference %.2f MB",
                            Double(activations + activationGradients) * 4 / 1e6, grouped(activations), grouped(activationGradients),
                            Double(activationGradients) * 4 / 1e6)
        if separateActivations != activations {
            memory += String(format: "; in-place concatenation saves %.2f MB", Double(separateActivations - activations) * 4 / 1e6)
        }
        lines.append(memory)
        return lines.joined(separator: "\n")
    }

    /// `{"params": N, "flops": F, "input": [...], "layers": [...], "activations_per_sample": A}`.
    public var json: String {
        struct Doc: Codable { let params: Int; let flops: Int; let input: [Int]; let layers: [Row]; let activations_per_sample: Int }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try! encoder.encode(Doc(params: params, flops: flops, input: input, layers: rows, activations_per_sample: activations))
        return String(decoding: data, as: UTF8.self)
    }
}

/// `1234567` -> `1,234,567`.
public func grouped(_ n: Int) -> String {
    let s = String(abs(n))
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return n < 0 ? "-" + out : out
}

private func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    if s.count >= width { return s + " " }
    let fill = String(repeating: " ", count: width - s.count)
    return right ? fill + s + " " : s + fill
}
