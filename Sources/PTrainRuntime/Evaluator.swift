import PTrain
import PTrainData

/// Loss, top-1 and top-5 of a split.
public struct EvalResult: Sendable {
    public let loss: Double
    public let top1: Double
    public let count: Int
    /// Top-5 accuracy (NaN for binary models).
    public var top5: Double = .nan
    public init(loss: Double, top1: Double, count: Int, top5: Double = .nan) {
        self.loss = loss; self.top1 = top1; self.count = count; self.top5 = top5
    }
}

/// Evaluation of one model or an ensemble (`ptrain eval --checkpoint A
/// --checkpoint B ...`) on a whole split, in inference mode, on the calling
/// thread. With softmax models the class probabilities are averaged over the
/// models and over the views (centre crop, or ten-crop).
public enum Evaluator {
    /// `networks` share one architecture and batch capacity.
    public static func evaluate(_ networks: [Network], on set: SampleSet, tenCrop: Bool = false) -> EvalResult {
        let first = networks[0], model = first.model
        let k = model.outputShape.count
        for net in networks { net.prepareInference() }
        guard model.loss == .softmaxCrossEntropy else {
            var loss = 0.0, correct = 0, start = 0
            let scratch = SampleScratch()
            while start < set.count {
                let n = min(first.maxBatch, set.count - start)
                set.fill(start..<(start + n), input: first.input.pointer, labels: first.labels.pointer, scratch: scratch)
                first.forward(batch: n, training: false)
                loss += Double(first.loss(batch: n, gradScale: nil, correct: &correct))
                start += n
            }
            return EvalResult(loss: loss / Double(max(set.count, 1)), top1: Double(correct) / Double(max(set.count, 1)), count: set.count)
        }
        var loss = 0.0, correct = 0, correct5 = 0
        forEachChunk(networks, on: set, tenCrop: tenCrop) { probs, n in
            score(probs, labels: first.labels.pointer, rows: n, classes: k, loss: &loss, correct: &correct, correct5: &correct5)
        }
        let count = Double(max(set.count, 1))
        return EvalResult(loss: loss / count, top1: Double(correct) / count, count: set.count, top5: Double(correct5) / count)
    }
}

extension Evaluator {
    /// Each sample's class probabilities `[set.count][classes]`, averaged over
    /// the models and the views (centre crop, or ten-crop), for softmax models.
    public static func probabilities(_ networks: [Network], on set: SampleSet, tenCrop: Bool = false) -> [[Float]] {
        let k = networks[0].model.outputShape.count
        var rows: [[Float]] = []
        forEachChunk(networks, on: set, tenCrop: tenCrop) { probs, n in
            for i in 0..<n { rows.append(Array(UnsafeBufferPointer(start: probs + i * k, count: k))) }
        }
        return rows
    }

    /// Walks `set` in chunks of the networks' batch capacity: for each, the
    /// softmax probabilities `[n, classes]` averaged over the models and the
    /// views are handed to `body` (with the chunk's labels in the first
    /// network's label buffer).
    private static func forEachChunk(_ networks: [Network], on set: SampleSet, tenCrop: Bool,
                                     _ body: (UnsafePointer<Float>, Int) -> Void) {
        let first = networks[0], k = first.model.outputShape.count
        for net in networks { net.prepareInference() }
        let views = tenCrop ? SampleSet.tenCropViews : 1
        let probs = FloatBuffer(count: first.maxBatch * k)
        let scratch = SampleScratch()
        var start = 0
        while start < set.count {
            let n = min(first.maxBatch, set.count - start)
            probs.pointer.update(repeating: 0, count: n * k)
            for view in 0..<views {
                set.fill(start..<(start + n), input: first.input.pointer, labels: first.labels.pointer, view: view, scratch: scratch)
                for net in networks {
                    if net !== first { net.input.copy(from: first.input) }
                    net.forward(batch: n, training: false)
                    addSoftmax(net.output, rows: n, classes: k, scale: 1 / Float(views * networks.count), into: probs.pointer)
                }
            }
            body(probs.pointer, n)
            start += n
        }
    }
}

/// `probs[n, k] += scale * softmax(logits[n, :])[k]`. A row with a NaN or
/// infinite logit adds NaN to every class, so `score` sees it.
func addSoftmax(_ logits: UnsafePointer<Float>, rows: Int, classes k: Int, scale: Float, into probs: UnsafeMutablePointer<Float>) {
    for n in 0..<rows {
        let z = logits + n * k
        var m = z[0]
        var finite = z[0].isFinite
        for c in 1..<max(k, 1) { m = max(m, z[c]); finite = finite && z[c].isFinite }
        guard finite else {
            for c in 0..<k { probs[n * k + c] += .nan }
            continue
        }
        var total: Float = 0
        for c in 0..<k { total += (z[c] - m).exp_() }
        let f = scale / total
        for c in 0..<k { probs[n * k + c] += (z[c] - m).exp_() * f }
    }
}

/// Adds `-log p[label]` per row to `loss`, and counts rows whose label ranks
/// first (`correct`) and among the first five (`correct5`); ties count against
/// the label. A row holding a non-finite probability is neither and adds NaN
/// to `loss` (NaN compares false, so without the check it would rank first).
func score(_ probs: UnsafePointer<Float>, labels: UnsafePointer<Int32>, rows: Int, classes k: Int,
           loss: inout Double, correct: inout Int, correct5: inout Int) {
    for i in 0..<rows {
        let p = probs + i * k, label = Int(labels[i])
        var above = 0
        var finite = p[label].isFinite
        for c in 0..<k where c != label {
            finite = finite && p[c].isFinite
            if p[c] > p[label] || (p[c] == p[label] && c < label) { above += 1 }
        }
        guard finite else { loss += .nan; continue }
        loss -= Double(max(p[label], 1e-30).log_())
        if above == 0 { correct += 1 }
        if above < 5 { correct5 += 1 }
    }
}

/// The model's raw outputs (logits) for every sample of `set`, row by row, centre view.
public func modelOutputs(_ network: Network, on set: SampleSet) -> [[Float]] {
    var rows: [[Float]] = []
    var start = 0
    let k = network.model.outputShape.count
    network.prepareInference()
    while start < set.count {
        let n = min(network.maxBatch, set.count - start)
        set.fill(start..<(start + n), input: network.input.pointer, labels: network.labels.pointer)
        network.forward(batch: n, training: false)
        for i in 0..<n { rows.append(Array(UnsafeBufferPointer(start: network.output + i * k, count: k))) }
        start += n
    }
    return rows
}
