import Foundation
import PTrain

/// Training and test error curves of several runs side by side (the ResNet
/// paper's Figure 1 format: thin dashed training error, bold test error, one
/// colour per run), plus a table of final and best errors. Reads each run's
/// `metrics.jsonl`.
public struct RunComparison {
    public struct Run {
        public let name: String
        public let curves: TrainingCurves
        /// Error (%) at the last evaluation, its best, and the last epoch's training error.
        public var finalTestError: Double? { curves.testTop1.last.map { 100 - $0.1 } }
        public var bestTestError: Double? { curves.testTop1.map { 100 - $0.1 }.min() }
        public var finalTrainError: Double? { curves.trainTop1.last.map { 100 - $0.1 } }
        public var epochs: Int { Int(curves.trainTop1.last?.0 ?? 0) }
    }

    public let runs: [Run]

    /// Loads run directories; a directory without metrics is an error naming it.
    public init(directories: [URL]) throws {
        runs = try directories.map { dir in
            let metrics = dir.appendingPathComponent("metrics.jsonl")
            guard FileManager.default.fileExists(atPath: metrics.path) else {
                throw RunError("\(dir.path): no metrics.jsonl (not a ptrain run directory, or it has not logged yet)")
            }
            let curves = TrainingCurves(metrics: metrics)
            guard !curves.testTop1.isEmpty else { throw RunError("\(metrics.path): no evaluation recorded yet") }
            return Run(name: dir.lastPathComponent, curves: curves)
        }
    }

    private static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    /// Top-1 error (%) per epoch: dashed training error, solid test error.
    public func chart(title: String) -> SVGChart {
        var series: [SVGChart.Series] = []
        for (i, run) in runs.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            series.append(.init(name: "\(run.name) train", points: run.curves.trainTop1.map { ($0.0, 100 - $0.1) }, color: color, dashed: true))
            series.append(.init(name: "\(run.name) test", points: run.curves.testTop1.map { ($0.0, 100 - $0.1) }, color: color))
        }
        return SVGChart(title: title, xLabel: "epoch", yLabel: "top-1 error %", series: series)
    }

    /// One line per run: epochs, final training error, final and best test error.
    public var table: String {
        let width = max(12, runs.map(\.name.count).max() ?? 0)
        func cell(_ v: Double?) -> String { v.map { String(format: "%9.2f", $0) } ?? "        -" }
        func right(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        var lines = ["run".padding(toLength: width, withPad: " ", startingAt: 0) + " " + right("epochs", 7) + " "
                     + ["train %", "test %", "best %"].map { right($0, 9) }.joined(separator: " ")]
        for r in runs {
            lines.append("\(r.name.padding(toLength: width, withPad: " ", startingAt: 0)) \(String(format: "%7d", r.epochs)) "
                         + "\(cell(r.finalTrainError)) \(cell(r.finalTestError)) \(cell(r.bestTestError))")
        }
        return lines.joined(separator: "\n")
    }
}
