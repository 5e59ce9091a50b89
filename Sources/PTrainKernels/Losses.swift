// Loss kernels fused with their output non-linearity, for numerical stability:
// softmax + cross-entropy, and sigmoid + binary logistic (cross-entropy) loss.

/// Softmax cross-entropy over `logits [N, K]` with integer `labels [N]`,
/// against the smoothed target `q = (1 - e) * onehot(label) + e / K`
/// (`labelSmoothing` e in [0, 1), PyTorch's `CrossEntropyLoss(label_smoothing:)`;
/// e = 0 is the plain one-hot target): per sample `-sum_k q[k] log softmax(z)[k]`.
///
/// Returns the SUM of the per-sample losses (callers divide by the global batch).
/// Writes `dlogits[n, k] = gradScale * (softmax(logits[n])[k] - q[k])`
/// (overwrites), and `correct` counts samples whose argmax equals the label
/// (ties resolve to the lowest index). A row holding a NaN or an infinity
/// (broken weights) is never correct and adds NaN to the loss and its
/// gradient, so no metric can look good on it.
public func softmaxCrossEntropy(_ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                batch: Int, classes: Int, gradScale: Float, labelSmoothing: Float = 0,
                                _ dlogits: UnsafeMutablePointer<Float>?, correct: inout Int) -> Float {
    // The target's weight on the label and on every class (e = 0: exactly 1 and 0).
    let onLabel = 1 - labelSmoothing, onEvery = labelSmoothing / Float(classes)
    var total: Float = 0
    for n in 0..<batch {
        let z = logits + n * classes
        let label = Int(labels[n])
        // The max scan checks finiteness on the way (one test per logit).
        var zmax = z[0]
        var arg = 0
        var finite = z[0].isFinite
        for k in 1..<max(classes, 1) {
            finite = finite && z[k].isFinite
            if z[k] > zmax { zmax = z[k]; arg = k }
        }
        guard finite else {
            total += .nan
            if let dlogits { (dlogits + n * classes).update(repeating: .nan, count: classes) }
            continue
        }
        if arg == label { correct += 1 }
        var denom: Float = 0
        for k in 0..<classes { denom += (z[k] - zmax).exp_() }
        let logDenom = denom.log_()
        if labelSmoothing == 0 {
            total += logDenom - (z[label] - zmax)
        } else {
            var shiftedSum: Float = 0
            for k in 0..<classes { shiftedSum += z[k] - zmax }
            total += logDenom - onLabel * (z[label] - zmax) - onEvery * shiftedSum
        }
        if let dlogits {
            let d = dlogits + n * classes
            let inv = 1 / denom
            for k in 0..<classes {
                let p = (z[k] - zmax).exp_() * inv
                d[k] = gradScale * (p - ((k == label ? onLabel : 0) + onEvery))
            }
        }
    }
    return total
}

/// Sigmoid + binary cross-entropy on one logit per sample: `logits [N]`,
/// `targets [N]` in {0, 1}. Loss per sample `log(1 + e^z) - t z` (computed
/// stably). Returns the SUM; writes `dlogits = gradScale * (sigmoid(z) - t)`;
/// counts `correct` with the 0.5 threshold (z > 0 predicts 1). A NaN or
/// infinite logit is never correct and adds NaN to the loss and its gradient.
public func binaryLogisticLoss(_ logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                               batch: Int, gradScale: Float,
                               _ dlogits: UnsafeMutablePointer<Float>?, correct: inout Int) -> Float {
    var total: Float = 0
    for n in 0..<batch {
        let z = logits[n]
        let t = Float(targets[n])
        guard z.isFinite else {
            total += .nan
            dlogits?[n] = .nan
            continue
        }
        // softplus(z) = max(z, 0) + log(1 + e^-|z|)
        total += max(z, 0) + (1 + (-abs(z)).exp_()).log_() - t * z
        if (z > 0 ? 1 : 0) == targets[n] { correct += 1 }
        if let dlogits { dlogits[n] = gradScale * (sigmoid(z) - t) }
    }
    return total
}
