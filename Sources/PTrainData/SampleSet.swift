import Foundation
import PTrain

/// One split of a dataset prepared for training or evaluation: where the
/// images come from (`ImageSource`: bytes in memory, or files decoded on
/// demand), which of them are in the split (`positions`: all, or the part a
/// validation hold-out leaves), and how an image becomes a model input.
/// Immutable and shared by all workers; `fill` is called concurrently, each
/// caller with its own `SampleScratch`.
///
/// An image becomes a model input by one of two paths:
/// - a transform chain (`data.transforms` / `data.eval_transforms`,
///   `TransformChain`): decode (files), then each transform in order, then
///   the normalisation; any source;
/// - the fused path of `data.crop` / `data.augment` (in-memory sources
///   only): crop, flip and lighting drawn per sample and written with the
///   normalisation in one pass over the stored bytes.
public struct SampleSet: Sendable {
    /// Where the pixels are.
    public let source: ImageSource
    /// Source indices of the split's samples, in order; nil: all of them.
    let positions: [Int]?
    /// `(x / maxPixelValue - mean[c]) / std[c]` folded into one multiply-add per channel (fused path).
    private let scale: [Float], offset: [Float]
    private let std: [Float]
    /// When set, label = 1 for this class and 0 otherwise.
    public let binaryTarget: Int?
    /// Samples in use (after the hold-out and the configured limit).
    public let count: Int
    /// The model input: channels x the size the crop or chain produces.
    public let shape: TensorShape
    /// Fused path: training augmentation (nil for evaluation sets).
    public let augmentation: Augmentation?
    /// Chain path: the transforms (nil: the fused path).
    public let chain: TransformChain?
    /// Files: JPEGs are decoded at the smallest DCT scale whose shorter side
    /// is still at least this (the chain's first resize), nil: full size.
    let decodeShorterSide: Int?
    /// What a bad image does: stop the run with its error, or skip it.
    public let onBadImage: DataConfig.BadImagePolicy
    /// Bad images met while filling (shared by every copy of the set).
    public let failures: DataFailures

    /// Evaluation views of an image: 0 centre, 1-4 the corners (top-left,
    /// top-right, bottom-left, bottom-right), 5-9 the same mirrored.
    public static let tenCropViews = 10

    /// An in-memory set on the fused path.
    public init(images: ImageSet, mean: [Float], std: [Float], binaryTarget: Int?, limit: Int?,
                crop: (Int, Int)? = nil, augmentation: Augmentation? = nil, positions: [Int]? = nil) {
        self.init(source: .memory(images), positions: positions, mean: mean, std: std, binaryTarget: binaryTarget, limit: limit,
                  shape: TensorShape(images.channels, crop?.0 ?? images.height, crop?.1 ?? images.width),
                  augmentation: augmentation, chain: nil, onBadImage: .error)
    }

    /// A set on the chain path (any source): `shape` is the chain's output.
    public init(source: ImageSource, positions: [Int]? = nil, chain: TransformChain, shape: TensorShape,
                binaryTarget: Int?, limit: Int?, onBadImage: DataConfig.BadImagePolicy) {
        self.init(source: source, positions: positions, mean: [], std: [], binaryTarget: binaryTarget, limit: limit,
                  shape: shape, augmentation: nil, chain: chain, onBadImage: onBadImage)
    }

    private init(source: ImageSource, positions: [Int]?, mean: [Float], std: [Float], binaryTarget: Int?, limit: Int?,
                 shape: TensorShape, augmentation: Augmentation?, chain: TransformChain?, onBadImage: DataConfig.BadImagePolicy) {
        self.source = source
        self.positions = positions
        self.binaryTarget = binaryTarget
        let available = positions?.count ?? source.count
        count = min(available, limit ?? available)
        let c = source.channels
        let mean = mean.isEmpty ? [Float](repeating: 0, count: c) : mean
        let std = std.isEmpty ? [Float](repeating: 1, count: c) : std
        self.std = std
        scale = (0..<c).map { 1 / (source.maxPixelValue * std[$0]) }
        offset = (0..<c).map { -mean[$0] / std[$0] }
        self.shape = shape
        self.augmentation = augmentation
        self.chain = chain
        decodeShorterSide = chain?.decodeShorterSide
        self.onBadImage = onBadImage
        failures = DataFailures()
    }

    /// For messages: `"cifar-10/train"`, `"photos/val"`.
    public var name: String { source.name }
    /// Label values the model must distinguish.
    public var classes: Int { binaryTarget == nil ? source.classes : 2 }
    /// The source index of sample `i`.
    @inline(__always) public func sourceIndex(_ i: Int) -> Int { positions?[i] ?? i }

    public func label(_ i: Int) -> Int32 {
        let raw = Int32(source.label(sourceIndex(i)))
        guard let binaryTarget else { return raw }
        return raw == Int32(binaryTarget) ? 1 : 0
    }

    /// Writes samples `indices` as floats into `input [indices.count, C, h, w]`
    /// and their labels into `labels`. Random choices of a sample are drawn
    /// from (seed, epoch, source index), so a sample looks the same whichever
    /// worker fills it; without augmentation `view` selects the centre crop
    /// (0) or one of the ten-crop views. `scratch` holds the caller's decode
    /// and transform buffers (one per thread; nil: a temporary one).
    ///
    /// A bad image (files) is recorded in `failures`; with `on_bad_image:
    /// skip` the next good image in the split takes its place (the same on
    /// every worker), otherwise its slot is zeros and the run stops with
    /// the error after the step.
    public func fill<C: Collection<Int>>(_ indices: C, input: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>,
                                         epoch: Int = 0, seed: UInt64 = 0, view: Int = 0, scratch: SampleScratch? = nil) {
        let out = shape.count
        if chain == nil, case .memory(let images) = source {
            images.pixels.withUnsafeBufferPointer { px in
                for (slot, i) in indices.enumerated() {
                    fillFused(images, px.baseAddress!, index: sourceIndex(i), into: input + slot * out,
                              epoch: epoch, seed: seed, view: view)
                    labels[slot] = label(i)
                }
            }
            return
        }
        let scratch = scratch ?? SampleScratch()
        for (slot, i) in indices.enumerated() {
            labels[slot] = fillChain(i, into: input + slot * out, epoch: epoch, seed: seed, view: view, scratch: scratch)
        }
    }

    /// Sample `i` through the chain; returns its label (that of the image
    /// that took its place when a bad one was skipped).
    private func fillChain(_ i: Int, into dst: UnsafeMutablePointer<Float>, epoch: Int, seed: UInt64, view: Int,
                           scratch: SampleScratch) -> Int32 {
        let chain = chain!
        var sample = i
        for _ in 0..<count {
            let index = sourceIndex(sample)
            do {
                try source.withPixels(index, decodeShorterSide: decodeShorterSide, scratch: scratch) { pixels in
                    chain.apply(pixels, into: dst, scratch: scratch.transforms, seed: seed, epoch: epoch, index: index, view: view)
                }
                return label(sample)
            } catch {
                let problem = error as? DataError ?? DataError("\(source.name): sample \(index): \(error)")
                failures.record(problem, skipped: onBadImage == .skip)
                guard onBadImage == .skip else { break }
                sample = (sample + 1) % count
            }
        }
        if onBadImage == .skip {
            failures.record(DataError("\(source.name): every image of the split is bad: none can take the place of sample \(i)"), skipped: false)
        }
        dst.update(repeating: 0, count: shape.count)
        return label(i)
    }

    /// The fused crop / flip / lighting / normalisation of one stored image.
    private func fillFused(_ images: ImageSet, _ px: UnsafePointer<UInt8>, index: Int, into dst: UnsafeMutablePointer<Float>,
                           epoch: Int, seed: UInt64, view: Int) {
        let h = images.height, w = images.width, ch = shape.height, cw = shape.width
        var d = Augmentation.Draw(offsetY: (h - ch) / 2, offsetX: (w - cw) / 2, flip: view >= 5, channelShift: .zero)
        if let augmentation {
            d = augmentation.draw(seed: seed, epoch: epoch, index: index, image: (h, w), crop: (ch, cw))
        } else if view % 5 != 0 {
            d.offsetY = view % 5 <= 2 ? 0 : h - ch
            d.offsetX = view % 5 == 1 || view % 5 == 3 ? 0 : w - cw
        }
        let src = px + index * images.pixelsPerImage
        for c in 0..<images.channels {
            let s = scale[c], o = offset[c] + (c < 4 ? d.channelShift[c] : 0) / std[c]
            let plane = src + c * h * w
            for y in 0..<ch {
                let sy = y + d.offsetY
                let row = dst + (c * ch + y) * cw
                guard sy >= 0 && sy < h else { row.update(repeating: o, count: cw); continue }
                // A crop row inside the image (the common case): 16 pixels at
                // a time, the same multiply-then-add per pixel as below.
                if d.offsetX >= 0 && d.offsetX + cw <= w {
                    normalizeRow(plane + sy * w + d.offsetX, count: cw, flip: d.flip, scale: s, offset: o, into: row)
                    continue
                }
                for x in 0..<cw {
                    let sx = (d.flip ? cw - 1 - x : x) + d.offsetX
                    row[x] = sx >= 0 && sx < w ? Float(plane[sy * w + sx]) * s + o : o
                }
            }
        }
    }
}

/// `row[x] = Float(pixels[x]) * scale + offset` for x in 0..<count, or of
/// `pixels[count - 1 - x]` when `flip`: 16 pixels per vector (rounded as
/// the scalar form: a multiply, then an add). A row of 16 or more ends with
/// a group that overlaps the one before (rewriting equal values: MNIST's
/// 28-pixel rows are two groups); shorter rows go one by one.
@inline(__always)
private func normalizeRow(_ pixels: UnsafePointer<UInt8>, count: Int, flip: Bool, scale: Float, offset: Float,
                          into row: UnsafeMutablePointer<Float>) {
    guard count >= 16 else {
        for x in 0..<count { row[x] = Float(pixels[flip ? count - 1 - x : x]) * scale + offset }
        return
    }
    var x = 0
    while true {
        // Pixels x ..< x + 16 of the row (flipped: count - 16 - x ..< count - x, reversed).
        let start = flip ? count - 16 - x : x
        var v = SIMD16<Float>(UnsafeRawPointer(pixels + start).loadUnaligned(as: SIMD16<UInt8>.self))
        // Lane by lane (folds to one shuffle; the generic swizzle subscript
        // is an outlined call).
        if flip { v = SIMD16(v[15], v[14], v[13], v[12], v[11], v[10], v[9], v[8], v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0]) }
        UnsafeMutableRawPointer(row + x).storeBytes(of: v * scale + offset, as: SIMD16<Float>.self)
        if x == count - 16 { return }
        x = min(x + 16, count - 16)
    }
}
