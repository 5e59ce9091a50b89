import PTrain

/// A DARTS cell architecture: for each cell type, each intermediate node's
/// incoming edges (input, operation). Inputs are numbered as in DARTS: 0 is
/// the output of the cell two back, 1 the previous cell's, 2 + i node i.
public struct DartsGenotype: Equatable, Sendable {
    public struct Edge: Equatable, Sendable {
        public let node: Int
        public let input: Int
        public let op: DartsOperation
        /// The op's softmax(alpha) weight on its edge (nil for a random genotype).
        public let weight: Double?
        public init(node: Int, input: Int, op: DartsOperation, weight: Double? = nil) {
            self.node = node; self.input = input; self.op = op; self.weight = weight
        }
    }

    public var normal: [Edge]
    public var reduce: [Edge]
    public let nodes: Int

    public init(normal: [Edge], reduce: [Edge], nodes: Int) {
        self.normal = normal; self.reduce = reduce; self.nodes = nodes
    }

    public func edges(reduction: Bool) -> [Edge] { reduction ? reduce : normal }

    /// DARTS's derivation (its `genotype()`): for every node, the two
    /// incoming edges whose strongest non-`none` op weighs most, each with
    /// that op. `softmax(kind, node, input)` gives an edge's op weights in
    /// `ops` order. Ties go to the lower input, then the earlier op.
    public static func derive(nodes: Int, ops: [DartsOperation],
                              softmax: (_ reduction: Bool, _ node: Int, _ input: Int) -> [Double]) -> DartsGenotype {
        func cell(_ reduction: Bool) -> [Edge] {
            (0..<nodes).flatMap { node -> [Edge] in
                let candidates = (0..<(2 + node)).map { input -> Edge in
                    let w = softmax(reduction, node, input)
                    var best = -1
                    for (k, op) in ops.enumerated() where op != .none && (best < 0 || w[k] > w[best]) { best = k }
                    return Edge(node: node, input: input, op: ops[best], weight: w[best])
                }
                let strongest = candidates.enumerated().sorted { a, b in
                    a.element.weight! == b.element.weight! ? a.offset < b.offset : a.element.weight! > b.element.weight!
                }
                return strongest.prefix(2).map(\.element).sorted { $0.input < $1.input }
            }
        }
        return DartsGenotype(normal: cell(false), reduce: cell(true), nodes: nodes)
    }

    /// DARTS's random baseline: every node draws two distinct inputs and
    /// an op (never `none`) for each, uniformly, keyed by `seed`.
    public static func random(nodes: Int, ops: [DartsOperation], seed: UInt64) -> DartsGenotype {
        let choices = ops.filter { $0 != .none }
        var rng = CounterRNG(seed: seed, stream: .search, 0xDA475)
        func cell() -> [Edge] {
            (0..<nodes).flatMap { node -> [Edge] in
                let first = rng.below(2 + node)
                var second = rng.below(1 + node)
                if second >= first { second += 1 }
                return [first, second].sorted().map { Edge(node: node, input: $0, op: choices[rng.below(choices.count)], weight: nil) }
            }
        }
        let normal = cell()
        return DartsGenotype(normal: normal, reduce: cell(), nodes: nodes)
    }

    /// `genotype.yaml`: both cells, one edge per line, with the weights.
    public func yaml(comment: String) -> String {
        var out = comment.split(separator: "\n").map { "# \($0)\n" }.joined()
        out += "# inputs: 0 = the cell two back, 1 = the previous cell, 2 + i = node i\n"
        out += "nodes: \(nodes)\n"
        for (name, edges) in [("normal", normal), ("reduce", reduce)] {
            out += "\(name):\n"
            for e in edges {
                out += "  - {node: \(e.node), input: \(e.input), op: \(e.op.rawValue)"
                    + (e.weight.map { String(format: ", weight: %.4f", $0) } ?? "") + "}\n"
            }
            out += "\(name)_concat: [\((2..<(2 + nodes)).map(String.init).joined(separator: ", "))]\n"
        }
        return out
    }

    /// DARTS's own notation, e.g. `normal=[('sep_conv_3x3', 1), ...]`.
    public var compact: String {
        func cell(_ edges: [Edge]) -> String { "[" + edges.map { "('\($0.op.rawValue)', \($0.input))" }.joined(separator: ", ") + "]" }
        return "normal=\(cell(normal)) reduce=\(cell(reduce))"
    }
}
