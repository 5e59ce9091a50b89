// Loss kernels fused with their output non-linearity, for numerical stability:
// softmax + cross-entropy, and sigmoid + binary logistic (cross-entropy) loss.

/// Softmax cross-entropy over `logits [N, K]` with integer `labels [N]`.
///
/// Returns the SUM of the per-sample losses (callers divide by the global batch).
/// Writes `dlogits[n, k] = gradScale * (softmax(logits[n])[k] - onehot(labels[n])[k])`
/// (overwrites), and `correct` counts samples whose argmax equals the label
/// (ties resolve to the lowest index). A row holding a NaN or an infinity
/// (broken weights) is never correct and adds NaN to the loss and its
/// gradient, so no metric can look good on it.
public func softmaxCrossEntropy(_ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                batch: Int, classes: Int, gradScale: Float,
                                _ dlogits: UnsafeMutablePointer<Float>?, correct: inout Int) -> Float {
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
        total += logDenom - (z[label] - zmax)
        if let dlogits {
            let d = dlogits + n * classes
            let inv = 1 / denom
            for k in 0..<classes {
                let p = (z[k] - zmax).exp_() * inv
                d[k] = gradScale * (p - (k == label ? 1 : 0))
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
