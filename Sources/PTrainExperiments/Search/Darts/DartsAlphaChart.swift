import PTrainReporting
import PTrainRuntime

/// softmax(alpha) of every edge of one cell type over the search's epochs:
/// one panel per edge (node I, input J), one line per operation (`none`
/// dashed), in a grid of `nodes` rows.
struct DartsAlphaChart {
    let records: [ArchitectureRecord]
    let ops: [DartsOperation]
    let nodes: Int
    let reduction: Bool
    /// The op weights of (record, node, input).
    let weights: (ArchitectureRecord, Int, Int) -> [Double]

    static let colors = ["#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]

    func render(panelWidth: Double = 300, panelHeight: Double = 220) -> String {
        let columns = nodes + 1  // node i has 2 + i inputs
        let width = panelWidth * Double(columns), height = panelHeight * Double(nodes) + 30
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<text x=\"10\" y=\"20\" font-size=\"15\">softmax(alpha) of the \(reduction ? "reduction" : "normal") cell's edges over the epochs (node I reads input J; 0, 1: the cell's inputs)</text>\n"
        for node in 0..<nodes {
            for input in 0..<(2 + node) {
                let series = ops.enumerated().map { k, op in
                    SVGChart.Series(name: op.rawValue, points: records.map { (Double($0.epoch), weights($0, node, input)[k]) },
                                    color: Self.colors[k % Self.colors.count], dashed: op == .none)
                }
                let panel = SVGChart(title: "node \(node) <- input \(input)", xLabel: "epoch", yLabel: "weight", series: series)
                    .render(width: panelWidth, height: panelHeight)
                // Each panel is an SVG of its own, placed by x and y.
                out += panel.replacingOccurrences(of: "<svg xmlns=\"http://www.w3.org/2000/svg\"",
                                                  with: "<svg x=\"\(Int(Double(input) * panelWidth))\" y=\"\(Int(30 + Double(node) * panelHeight))\"")
            }
        }
        return out + "</svg>\n"
    }
}
