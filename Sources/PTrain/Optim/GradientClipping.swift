/// Gradient clipping by global norm, PyTorch's `clip_grad_norm_`: the L2
/// norm of every trainable gradient taken together; when it exceeds
/// `maxNorm` the gradients are multiplied by `maxNorm / (norm + 1e-6)`.
///
/// The norm must be the same bits whichever worker count slices the arena,
/// so it is summed in fixed blocks: the trainable ranges cut into blocks of
/// at most `blockSize` floats, each block's sum of squares taken in Double in
/// element order by whichever worker's slice holds the block's start, and
/// the block sums added in block order.
public struct GradientClipping: Sendable {
    public let maxNorm: Double
    /// The blocks, in arena order, within the ranges given.
    public let blocks: [Range<Int>]
    public static let blockSize = 4096

    /// `ranges`: the trainable tensors' ranges (`ParameterUpdate.trainableRanges`).
    public init(maxNorm: Double, ranges: [Range<Int>]) {
        self.maxNorm = maxNorm
        blocks = ranges.flatMap { r in
            stride(from: r.lowerBound, to: r.upperBound, by: Self.blockSize).map { $0..<min($0 + Self.blockSize, r.upperBound) }
        }
    }

    /// Writes `sums[b]`, the sum of squares of block b of `g`, for every
    /// block whose start lies in `slice` (it may read past the slice's end:
    /// the whole gradient must be complete).
    public func blockSums(_ g: UnsafePointer<Float>, startingIn slice: Range<Int>, into sums: UnsafeMutablePointer<Double>) {
        for (b, block) in blocks.enumerated() where slice.contains(block.lowerBound) {
            var s: Double = 0
            for i in block { let x = Double(g[i]); s += x * x }
            sums[b] = s
        }
    }

    /// The global norm from every block's sum (`blocks.count` values).
    public func norm(_ sums: UnsafePointer<Double>) -> Double {
        var total: Double = 0
        for b in 0..<blocks.count { total += sums[b] }
        return total.squareRoot()
    }

    /// The factor the gradients are multiplied by: `maxNorm / (norm + 1e-6)`
    /// when that is below 1, else 1 (PyTorch clamps it the same way).
    public func coefficient(norm: Double) -> Float {
        Float(min(maxNorm / (norm + 1e-6), 1))
    }
}
