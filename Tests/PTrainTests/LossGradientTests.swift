import Testing
import PTrain

@Test("loss gradients match finite differences of the summed loss", arguments: LossKind.allCases)
func lossGradients(_ loss: LossKind) {
    let batch = 5, classes = 7
    let outputs = loss.requiredOutputs(classes: classes)
    var logits = testValues(batch * outputs, seed: 4).map { $0 * 3 }
    let labels = (0..<batch).map { Int32(loss == .binaryLogistic ? $0 % 2 : ($0 * 3) % classes) }
    var correct = 0
    var d = [Float](repeating: 0, count: logits.count)
    func value() -> Double {
        var c = 0
        return Double(logits.withUnsafeBufferPointer { z in labels.withUnsafeBufferPointer {
            loss.evaluate(z.baseAddress!, labels: $0.baseAddress!, batch: batch, outputs: outputs, gradScale: 1, nil, correct: &c)
        } })
    }
    _ = logits.withUnsafeBufferPointer { z in labels.withUnsafeBufferPointer { l in d.withUnsafeMutableBufferPointer {
        loss.evaluate(z.baseAddress!, labels: l.baseAddress!, batch: batch, outputs: outputs, gradScale: 1, $0.baseAddress!, correct: &correct)
    } } }
    let eps: Float = 1e-2
    for i in logits.indices {
        let saved = logits[i]
        logits[i] = saved + eps; let plus = value()
        logits[i] = saved - eps; let minus = value()
        logits[i] = saved
        let numeric = (plus - minus) / (2 * Double(eps))
        #expect(abs(numeric - Double(d[i])) < 1e-3, "logit \(i): \(d[i]) vs \(numeric)")
    }
}
