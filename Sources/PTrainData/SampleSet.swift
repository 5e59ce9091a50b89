import Foundation
import PTrain

/// One split of a dataset prepared for training: the images as stored, plus
/// the mapping to model inputs (scaling to [0, 1], per-channel normalisation)
/// and labels (binary target). Immutable and shared by all workers.
public struct SampleSet: Sendable {
    public let images: ImageSet
    /// `(x / maxPixelValue - mean[c]) / std[c]` folded into one multiply-add per channel.
    private let scale: [Float], offset: [Float]
    /// When set, label = 1 for this class and 0 otherwise.
    public let binaryTarget: Int?
    /// Samples in use (a prefix of the set when a limit is configured).
    public let count: Int

    public init(images: ImageSet, mean: [Float], std: [Float], binaryTarget: Int?, limit: Int?) {
        self.images = images
        self.binaryTarget = binaryTarget
        count = min(images.count, limit ?? images.count)
        let c = images.channels
        let mean = mean.isEmpty ? [Float](repeating: 0, count: c) : mean
        let std = std.isEmpty ? [Float](repeating: 1, count: c) : std
        scale = (0..<c).map { 1 / (images.maxPixelValue * std[$0]) }
        offset = (0..<c).map { -mean[$0] / std[$0] }
    }

    public var shape: TensorShape { TensorShape(images.channels, images.height, images.width) }
    /// Label values the model must distinguish.
    public var classes: Int { binaryTarget == nil ? images.classes : 2 }

    public func label(_ index: Int) -> Int32 {
        let raw = Int32(images.labels[index])
        guard let binaryTarget else { return raw }
        return raw == Int32(binaryTarget) ? 1 : 0
    }

    /// Writes samples `indices` as floats into `input [indices.count, C, H, W]`
    /// and their labels into `labels`.
    public func fill<C: Collection<Int>>(_ indices: C, input: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        let plane = images.height * images.width
        let per = images.channels * plane
        images.pixels.withUnsafeBufferPointer { px in
            for (slot, index) in indices.enumerated() {
                let src = px.baseAddress! + index * per
                let dst = input + slot * per
                for c in 0..<images.channels {
                    let s = scale[c], o = offset[c]
                    for i in 0..<plane { dst[c * plane + i] = Float(src[c * plane + i]) * s + o }
                }
                labels[slot] = label(index)
            }
        }
    }
}
