import Testing
import PTrainKernels

// A row of logits holding a NaN or an infinity (broken weights) is never a
// correct prediction and makes the loss and its gradient NaN; the finite rows
// around it are scored as usual.

@Test("softmax cross-entropy: a non-finite row is wrong and makes the loss NaN",
      arguments: [Float.nan, .infinity, -.infinity])
func softmaxNonFiniteRow(_ bad: Float) {
    // Row 0 is finite and right (label 1 is the max); row 1 holds `bad` at the label.
    let logits: [Float] = [0, 3, 1, 2, bad, 0]
    let labels: [Int32] = [1, 1]
    var gradient = [Float](repeating: 0, count: 6)
    var correct = 0
    let loss = softmaxCrossEntropy(logits, labels: labels, batch: 2, classes: 3, gradScale: 1, &gradient, correct: &correct)
    #expect(correct == 1)
    #expect(loss.isNaN)
    #expect(gradient[0..<3].allSatisfy { $0.isFinite })
    #expect(gradient[3..<6].allSatisfy { $0.isNaN })
    // Alone, the broken row scores nothing.
    var alone = 0
    let rowLoss = softmaxCrossEntropy(Array(logits[3...]), labels: [1], batch: 1, classes: 3, gradScale: 1, nil, correct: &alone)
    #expect(alone == 0 && rowLoss.isNaN)
}

@Test("binary logistic loss: a non-finite logit is wrong and makes the loss NaN",
      arguments: [Float.nan, .infinity, -.infinity])
func binaryNonFiniteLogit(_ bad: Float) {
    // Target 0 (NaN and -inf would have counted as "predicts 0"), then target 1 (+inf would have).
    for target: Int32 in [0, 1] {
        var gradient: [Float] = [0, 0]
        var correct = 0
        let loss = binaryLogisticLoss([bad, 2], targets: [target, 1], batch: 2, gradScale: 1, &gradient, correct: &correct)
        #expect(correct == 1, "target \(target)")
        #expect(loss.isNaN)
        #expect(gradient[0].isNaN && gradient[1].isFinite)
    }
}
