import Foundation
import PTrain

/// Loss and accuracy per epoch, drawn as `loss.svg` and `accuracy.svg` in the
/// run directory after every evaluation. On resume the history is read back
/// from `metrics.jsonl`, so the curves cover the whole run.
public struct TrainingCurves {
    public private(set) var trainLoss: [(Double, Double)] = []
    public private(set) var testLoss: [(Double, Double)] = []
    public private(set) var trainTop1: [(Double, Double)] = []
    public private(set) var testTop1: [(Double, Double)] = []

    public init() {}

    /// History from existing `metrics.jsonl` lines (`epoch` and `eval` events).
    public init(metrics url: URL) {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let event = obj["event"] as? String, let epoch = (obj["epoch"] as? NSNumber)?.doubleValue,
                  let loss = (obj["loss"] as? NSNumber)?.doubleValue, let top1 = (obj["top1"] as? NSNumber)?.doubleValue else { continue }
            add(event: event, epoch: epoch, loss: loss, top1: top1)
        }
    }

    public mutating func add(event: String, epoch: Double, loss: Double, top1: Double) {
        if event == "epoch" { trainLoss.append((epoch, loss)); trainTop1.append((epoch, 100 * top1)) }
        if event == "eval" { testLoss.append((epoch, loss)); testTop1.append((epoch, 100 * top1)) }
    }

    public func write(to directory: URL, name: String) throws {
        let loss = SVGChart(title: "\(name): loss", xLabel: "epoch", yLabel: "loss", series: [
            .init(name: "train", points: trainLoss, color: "#1f77b4"),
            .init(name: "test", points: testLoss, color: "#d62728"),
        ])
        let accuracy = SVGChart(title: "\(name): top-1 accuracy", xLabel: "epoch", yLabel: "top-1 %", series: [
            .init(name: "train", points: trainTop1, color: "#1f77b4"),
            .init(name: "test", points: testTop1, color: "#d62728"),
        ])
        try AtomicFile.write(loss.render(), to: directory.appendingPathComponent("loss.svg"))
        try AtomicFile.write(accuracy.render(), to: directory.appendingPathComponent("accuracy.svg"))
    }
}
