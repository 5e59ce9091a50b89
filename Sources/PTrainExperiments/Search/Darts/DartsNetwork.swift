/// The DARTS network skeleton (Liu et al. 2019, its CIFAR `Network`) as a
/// ptrain graph `model:` section in YAML: a 3x3 stem of `3 * channels`
/// filters with batch norm, `cells` cells (reduction cells, which halve the
/// size and double the channels, at cells/3 and 2 cells/3), global average
/// pooling and a dense classifier.
///
/// Every cell reads the two previous cells' outputs (the stem stands for
/// both before the first cells), brings them to its channel count (relu,
/// 1x1 convolution, batch norm; a factorized reduce when the cell two back
/// is twice as large), computes `nodes` nodes, each the sum of edges from
/// every earlier input and node, and outputs their concatenation
/// (`nodes * channels` channels). Cell c's layers are named `cellC_p0`,
/// `cellC_p1`, `cellC_nI_inJ` (the edge from input J into node I),
/// `cellC_nI` and `cellC`.
public struct DartsNetwork: Sendable {
    public let cells: Int
    public let channels: Int
    public let nodes: Int
    /// The model input `[C, H, W]` and the class count.
    public let input: [Int]
    public let classes: Int

    public init(cells: Int, channels: Int, nodes: Int, input: [Int], classes: Int) {
        self.cells = cells; self.channels = channels; self.nodes = nodes; self.input = input; self.classes = classes
    }

    static let stemMultiplier = 3

    /// Whether cell c is a reduction cell.
    public func isReduction(_ c: Int) -> Bool { c == cells / 3 || c == 2 * cells / 3 }

    /// One cell's geometry.
    struct CellPlan {
        let index: Int
        let reduction: Bool
        /// The previous cell was a reduction: input 0 is twice this cell's input size.
        let reductionBefore: Bool
        /// Channels of every node (and of the preprocessed inputs).
        let channels: Int
        /// Size of the cell's inputs after preprocessing (before any stride-2 edge).
        let height: Int, width: Int
        /// Layer names of the cell's two inputs.
        let input0: String, input1: String
    }

    var plan: [CellPlan] {
        var result: [CellPlan] = []
        var c = channels, h = input[1], w = input[2]
        var previous = "stem_bn", beforePrevious = "stem_bn", reductionBefore = false
        for i in 0..<cells {
            let reduction = isReduction(i)
            if reduction { c *= 2 }
            result.append(CellPlan(index: i, reduction: reduction, reductionBefore: reductionBefore, channels: c,
                                   height: h, width: w, input0: beforePrevious, input1: previous))
            if reduction { h = (h + 1) / 2; w = (w + 1) / 2 }
            beforePrevious = previous
            previous = "cell\(i)"
            reductionBefore = reduction
        }
        return result
    }

    /// The search network: every edge a `mixed` layer over `ops`, its alpha
    /// shared by that edge in every cell of the same type (`alpha_normal.nI.inJ`
    /// / `alpha_reduce.nI.inJ`). `alphaStd`: alpha's initial spread.
    public func searchModel(ops: [DartsOperation], alphaStd: Double = 1e-3) -> String {
        func mixed(stride: Int) -> String {
            let list = ops.map { "        - " + $0.layers(channels: "$channels", stride: stride, shape: "[$channels, $height, $width]", search: true) }
            return "      - type: mixed\n        alpha: $alpha\n        alpha_std: \(alphaStd)\n        ops:\n"
                + list.map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        var out = "input: [\(input.map(String.init).joined(separator: ", "))]\nblocks:\n"
        out += preprocessBlock(search: true)
        for (name, stride) in [("edge", 1), ("reducing_edge", 2)] {
            out += "  \(name):\n    params: {channels: ~, height: ~, width: ~, alpha: ~}\n    layers:\n" + mixed(stride: stride)
        }
        out += "layers:\n" + stem()
        for cell in plan {
            out += preprocess(cell, search: true, needed: true)
            for node in 0..<nodes {
                var edges: [String] = []
                for j in 0..<(2 + node) {
                    let strided = cell.reduction && j < 2
                    let name = "cell\(cell.index)_n\(node)_in\(j)"
                    let alpha = "alpha_\(cell.reduction ? "reduce" : "normal").n\(node).in\(j)"
                    out += "  - {name: \(name), block: \(strided ? "reducing_edge" : "edge"), input: \(source(cell, j)), "
                        + "with: {channels: \(cell.channels), height: \(cell.reduction && !strided ? (cell.height + 1) / 2 : cell.height), "
                        + "width: \(cell.reduction && !strided ? (cell.width + 1) / 2 : cell.width), alpha: \(alpha)}}\n"
                    edges.append(name)
                }
                out += "  - {name: cell\(cell.index)_n\(node), type: add, inputs: [\(edges.joined(separator: ", "))]}\n"
            }
            out += concat(cell)
        }
        return out + head()
    }

    /// A derived network: each node the sum of its genotype's two edges.
    /// A stride-1 `skip_connect` reads its input directly; a cell input no
    /// edge reads is not preprocessed.
    public func derivedModel(_ genotype: DartsGenotype) -> String {
        var used: [(DartsOperation, Int)] = []
        for cell in plan {
            for e in genotype.edges(reduction: cell.reduction) {
                let stride = cell.reduction && e.input < 2 ? 2 : 1
                if !(e.op == .skipConnect && stride == 1) && !used.contains(where: { $0 == (e.op, stride) }) { used.append((e.op, stride)) }
            }
        }
        var out = "input: [\(input.map(String.init).joined(separator: ", "))]\nblocks:\n"
        out += preprocessBlock(search: false)
        for (op, stride) in used {
            out += "  \(op.rawValue)_s\(stride):\n    params: {channels: ~}\n    layers: "
                + op.layers(channels: "$channels", stride: stride, shape: "[]", search: false) + "\n"
        }
        out += "layers:\n" + stem()
        for cell in plan {
            let edges = genotype.edges(reduction: cell.reduction)
            out += preprocess(cell, search: false, needed: edges.contains { $0.input == 0 })
            for node in 0..<nodes {
                var terms: [String] = []
                for e in edges where e.node == node {
                    let stride = cell.reduction && e.input < 2 ? 2 : 1
                    if e.op == .skipConnect && stride == 1 {
                        terms.append(source(cell, e.input))
                        continue
                    }
                    let name = "cell\(cell.index)_n\(node)_in\(e.input)"
                    out += "  - {name: \(name), block: \(e.op.rawValue)_s\(stride), input: \(source(cell, e.input)), with: {channels: \(cell.channels)}}\n"
                    terms.append(name)
                }
                out += "  - {name: cell\(cell.index)_n\(node), type: add, inputs: [\(terms.joined(separator: ", "))]}\n"
            }
            out += concat(cell)
        }
        return out + head()
    }

    private func preprocessBlock(search: Bool) -> String {
        "  preprocess:\n    params: {channels: ~}\n    layers: [{type: relu}, {type: conv2d, filters: $channels, kernel: 1, bias: false}, "
            + (search ? "{type: batchnorm, affine: false}]\n" : "{type: batchnorm}]\n")
    }

    private func stem() -> String {
        "  - {name: stem, type: conv2d, filters: \(Self.stemMultiplier * channels), kernel: 3, padding: 1, bias: false}\n"
            + "  - {name: stem_bn, type: batchnorm}\n"
    }

    private func preprocess(_ cell: CellPlan, search: Bool, needed: Bool) -> String {
        var out = ""
        if needed {
            out += cell.reductionBefore
                ? "  - {name: cell\(cell.index)_p0, type: factorized_reduce, input: \(cell.input0), filters: \(cell.channels)\(search ? ", affine: false" : "")}\n"
                : "  - {name: cell\(cell.index)_p0, block: preprocess, input: \(cell.input0), with: {channels: \(cell.channels)}}\n"
        }
        return out + "  - {name: cell\(cell.index)_p1, block: preprocess, input: \(cell.input1), with: {channels: \(cell.channels)}}\n"
    }

    /// The layer holding input j of a cell (0, 1: the preprocessed inputs; 2 + i: node i).
    private func source(_ cell: CellPlan, _ j: Int) -> String {
        j < 2 ? "cell\(cell.index)_p\(j)" : "cell\(cell.index)_n\(j - 2)"
    }

    private func concat(_ cell: CellPlan) -> String {
        "  - {name: cell\(cell.index), type: concat, inputs: [\((0..<nodes).map { "cell\(cell.index)_n\($0)" }.joined(separator: ", "))]}\n"
    }

    private func head() -> String {
        "  - {name: pool, type: global_avgpool}\n  - {name: classifier, type: dense, units: \(classes)}\n"
    }
}
