import Foundation
import PTrain

/// One split of a dataset prepared for training: the images as stored, plus
/// the mapping to model inputs (cropping, augmentation, scaling to [0, 1],
/// per-channel normalisation) and labels (binary target). Immutable and
/// shared by all workers.
public struct SampleSet: Sendable {
    public let images: ImageSet
    /// `(x / maxPixelValue - mean[c]) / std[c]` folded into one multiply-add per channel.
    private let scale: [Float], offset: [Float]
    private let std: [Float]
    /// When set, label = 1 for this class and 0 otherwise.
    public let binaryTarget: Int?
    /// Samples in use (a prefix of the set when a limit is configured).
    public let count: Int
    /// Size of the model input cut from each image (the whole image by default).
    public let cropHeight: Int, cropWidth: Int
    /// Training augmentation; nil for evaluation sets.
    public let augmentation: Augmentation?

    /// Evaluation views of an image: 0 centre, 1-4 the corners (top-left,
    /// top-right, bottom-left, bottom-right), 5-9 the same mirrored.
    public static let tenCropViews = 10

    public init(images: ImageSet, mean: [Float], std: [Float], binaryTarget: Int?, limit: Int?,
                crop: (Int, Int)? = nil, augmentation: Augmentation? = nil) {
        self.images = images
        self.binaryTarget = binaryTarget
        count = min(images.count, limit ?? images.count)
        let c = images.channels
        let mean = mean.isEmpty ? [Float](repeating: 0, count: c) : mean
        let std = std.isEmpty ? [Float](repeating: 1, count: c) : std
        self.std = std
        scale = (0..<c).map { 1 / (images.maxPixelValue * std[$0]) }
        offset = (0..<c).map { -mean[$0] / std[$0] }
        cropHeight = crop?.0 ?? images.height
        cropWidth = crop?.1 ?? images.width
        self.augmentation = augmentation
    }

    public var shape: TensorShape { TensorShape(images.channels, cropHeight, cropWidth) }
    /// Label values the model must distinguish.
    public var classes: Int { binaryTarget == nil ? images.classes : 2 }

    public func label(_ index: Int) -> Int32 {
        let raw = Int32(images.labels[index])
        guard let binaryTarget else { return raw }
        return raw == Int32(binaryTarget) ? 1 : 0
    }

    /// Writes samples `indices` as floats into `input [indices.count, C, h, w]`
    /// and their labels into `labels`. With an augmentation, each sample's
    /// crop, flip and lighting are drawn from (seed, epoch, index); without,
    /// `view` selects the centre crop (0) or one of the ten-crop views.
    public func fill<C: Collection<Int>>(_ indices: C, input: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>,
                                         epoch: Int = 0, seed: UInt64 = 0, view: Int = 0) {
        let h = images.height, w = images.width, ch = cropHeight, cw = cropWidth
        let per = images.channels * h * w, out = images.channels * ch * cw
        images.pixels.withUnsafeBufferPointer { px in
            for (slot, index) in indices.enumerated() {
                var d = Augmentation.Draw(offsetY: (h - ch) / 2, offsetX: (w - cw) / 2, flip: view >= 5, channelShift: .zero)
                if let augmentation {
                    d = augmentation.draw(seed: seed, epoch: epoch, index: index, image: (h, w), crop: (ch, cw))
                } else if view % 5 != 0 {
                    d.offsetY = view % 5 <= 2 ? 0 : h - ch
                    d.offsetX = view % 5 == 1 || view % 5 == 3 ? 0 : w - cw
                }
                let src = px.baseAddress! + index * per
                let dst = input + slot * out
                for c in 0..<images.channels {
                    let s = scale[c], o = offset[c] + (c < 4 ? d.channelShift[c] : 0) / std[c]
                    let plane = src + c * h * w
                    for y in 0..<ch {
                        let sy = y + d.offsetY
                        let row = dst + (c * ch + y) * cw
                        guard sy >= 0 && sy < h else { row.update(repeating: o, count: cw); continue }
                        for x in 0..<cw {
                            let sx = (d.flip ? cw - 1 - x : x) + d.offsetX
                            row[x] = sx >= 0 && sx < w ? Float(plane[sy * w + sx]) * s + o : o
                        }
                    }
                }
                labels[slot] = label(index)
            }
        }
    }
}
