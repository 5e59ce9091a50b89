import PTrainKernels

/// The training objective applied to the model's last output.
public enum LossKind: String, Sendable, CaseIterable {
    /// Softmax over `K` logits + cross-entropy with an integer label.
    case softmaxCrossEntropy = "softmax_cross_entropy"
    /// One logit, sigmoid + binary cross-entropy with a 0/1 label.
    case binaryLogistic = "binary_logistic"

    /// Number of logits the model must output for `classes` labels.
    public func requiredOutputs(classes: Int) -> Int { self == .binaryLogistic ? 1 : classes }

    /// Sum of per-sample losses over `logits [N, outputs]`; writes
    /// `dlogits = gradScale * dLoss/dlogits` when given; counts correct
    /// predictions. `labelSmoothing` applies to softmax cross-entropy only
    /// (the config refuses it with another loss).
    public func evaluate(_ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, outputs: Int,
                         gradScale: Float, labelSmoothing: Float = 0, _ dlogits: UnsafeMutablePointer<Float>?, correct: inout Int) -> Float {
        switch self {
        case .softmaxCrossEntropy:
            return PTrainKernels.softmaxCrossEntropy(logits, labels: labels, batch: batch, classes: outputs, gradScale: gradScale,
                                       labelSmoothing: labelSmoothing, dlogits, correct: &correct)
        case .binaryLogistic:
            return binaryLogisticLoss(logits, targets: labels, batch: batch, gradScale: gradScale, dlogits,
                                      correct: &correct)
        }
    }
}
