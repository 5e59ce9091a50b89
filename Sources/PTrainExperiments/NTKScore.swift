import Foundation
import PTrain
import PTrainData
import PTrainReporting
import PTrainRuntime

/// A training-free score of an architecture at initialisation: the condition
/// number `lambda_max / lambda_min` of the empirical neural tangent kernel on
/// a small batch (after Xu et al. 2021 and Chen et al.'s TE-NAS). A small
/// condition number means gradient descent makes progress in every direction
/// of the batch's loss landscape; such networks tend to train faster and
/// better, so candidates can be ranked before any training.
///
/// `Theta[i][j] = <dL_i/dw, dL_j/dw>`, the dot products of the per-sample
/// loss gradients over all trainable weights, at the weights the config's seed
/// initialises. The batch: the first `samples` training samples of epoch 0's
/// order, with the config's augmentation. Batch norm uses the batch's
/// statistics (training mode); dropout is off (the kernel of the network
/// without its noise).
public enum NTKScore {
    public struct Result: Sendable {
        public let samples: Int
        /// Theta, `samples x samples`, row-major.
        public let kernel: [Double]
        /// Eigenvalues of Theta, ascending.
        public let eigenvalues: [Double]
        /// `lambda_max / lambda_min`; infinity when Theta is singular.
        public var conditionNumber: Double {
            guard let lo = eigenvalues.first, let hi = eigenvalues.last, lo > 0 else { return .infinity }
            return hi / lo
        }
    }

    public static func compute(config: RunConfig, train: SampleSet, samples n: Int = 32) throws -> Result {
        guard n >= 2, n <= train.count else {
            throw RunError("the NTK score needs 2 to \(train.count) samples (the training set's size), found \(n)")
        }
        let model = try config.model.build(classes: train.classes)
        let layout = model.layout
        let parameters = FloatBuffer(count: layout.totalCount), gradients = FloatBuffer(count: layout.totalCount)
        layout.initialize(parameters, seed: config.seed)
        let network = Network(model: model, maxBatch: n, parameters: parameters, gradients: gradients, seed: config.seed)
        network.context.dropout = false
        let order = Array(epochPermutation(count: train.count, seed: config.seed, epoch: 0).prefix(n))
        order.withUnsafeBufferPointer {
            train.fill($0, input: network.input.pointer, labels: network.labels.pointer, epoch: 0, seed: config.seed)
        }
        for i in 0..<n { network.context.sampleIndices[i] = order[i] }
        // Per-sample gradients of the trainable tensors, one row each.
        let trainable = layout.entries.filter { $0.runningAverageMomentum == nil }
        let width = trainable.reduce(0) { $0 + $1.count }
        var rows = [Float](repeating: 0, count: n * width)
        var correct = 0
        for i in 0..<n {
            gradients.zero()
            network.forward(batch: n, training: true)
            _ = network.loss(batch: n, gradScale: 1, correct: &correct)
            network.keepOutputGradient(ofSample: i, batch: n)
            network.backward(batch: n)
            var column = i * width
            for e in trainable {
                for k in 0..<e.count { rows[column + k] = gradients.pointer[e.offset + k] }
                column += e.count
            }
        }
        var theta = [Double](repeating: 0, count: n * n)
        rows.withUnsafeBufferPointer { g in
            for i in 0..<n {
                for j in i..<n {
                    var s = 0.0
                    for k in 0..<width { s += Double(g[i * width + k]) * Double(g[j * width + k]) }
                    theta[i * n + j] = s
                    theta[j * n + i] = s
                }
            }
        }
        return Result(samples: n, kernel: theta, eigenvalues: symmetricEigenvalues(theta, n: n))
    }
}

/// Eigenvalues (ascending) of the symmetric `n x n` row-major matrix `a`, by
/// cyclic Jacobi rotations (exact to rounding for the small kernels here).
public func symmetricEigenvalues(_ matrix: [Double], n: Int) -> [Double] {
    var a = matrix
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<n { for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] } }
        var scale = 0.0
        for i in 0..<n { scale += a[i * n + i] * a[i * n + i] }
        if off <= 1e-30 * max(scale, 1e-300) { break }
        for p in 0..<n {
            for q in (p + 1)..<n where a[p * n + q] != 0 {
                let apq = a[p * n + q], app = a[p * n + p], aqq = a[q * n + q]
                let theta = (aqq - app) / (2 * apq)
                let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {
                    let akp = a[k * n + p], akq = a[k * n + q]
                    a[k * n + p] = c * akp - s * akq
                    a[k * n + q] = s * akp + c * akq
                }
                for k in 0..<n {
                    let apk = a[p * n + k], aqk = a[q * n + k]
                    a[p * n + k] = c * apk - s * aqk
                    a[q * n + k] = s * apk + c * aqk
                }
            }
        }
    }
    return (0..<n).map { a[$0 * n + $0] }.sorted()
}
