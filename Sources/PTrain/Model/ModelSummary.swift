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
    }

    public let input: [Int]
    public let rows: [Row]
    public let params: Int
    public let flops: Int

    public init(model: Model) {
        input = model.inputShape.dimensions
        rows = model.layers.map {
            Row(name: $0.name, type: $0.typeName, detail: $0.detail, output: $0.outputShape.dimensions,
                params: $0.parameterCount, flops: $0.forwardFLOPs)
        }
        params = model.parameterCount
        flops = model.forwardFLOPs
    }

    /// Fixed-width table for terminals and logs.
    public var table: String {
        var lines = [pad("layer", 8) + pad("type", 10) + pad("config", 22) + pad("output", 14, right: true)
                     + pad("params", 14, right: true) + pad("MFLOP/sample", 14, right: true)]
        lines.append(pad("input", 8) + pad("", 32) + pad(input.map(String.init).joined(separator: "x"), 14, right: true))
        for r in rows {
            lines.append(pad(r.name, 8) + pad(r.type, 10) + pad(r.detail, 22)
                         + pad(r.output.map(String.init).joined(separator: "x"), 14, right: true)
                         + pad(grouped(r.params), 14, right: true) + pad(String(format: "%.3f", Double(r.flops) / 1e6), 14, right: true))
        }
        lines.append("total: \(grouped(params)) parameters, \(String(format: "%.3f", Double(flops) / 1e6)) MFLOP forward per sample")
        return lines.joined(separator: "\n")
    }

    /// `{"params": N, "flops": F, "input": [...], "layers": [...]}`.
    public var json: String {
        struct Doc: Codable { let params: Int; let flops: Int; let input: [Int]; let layers: [Row] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try! encoder.encode(Doc(params: params, flops: flops, input: input, layers: rows))
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
