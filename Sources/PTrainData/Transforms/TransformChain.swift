import PTrain

/// `data.transforms` / `data.eval_transforms` for one image at a time: the
/// decoder's uint8 image in, the model's normalised float CHW sample out.
/// Values are scaled to [0, 1] first and `(x - mean) / std` is applied after
/// the last step, fused into the final write. Crops, flips and lighting are
/// kept lazy (an offset, a mirror flag, a per-channel shift), so a chain of
/// only those reads each source pixel once.
public struct TransformChain: Sendable {
    /// A TransformOperation resolved for applying: sizes as ints, factors as floats.
    enum Step: Sendable {
        case resize(TransformOperation.Size)
        case centerCrop(height: Int, width: Int)
        case randomCrop(height: Int, width: Int, padding: Int)
        case randomResizedCrop(height: Int, width: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>)
        case flip
        case colorJitter(ColorJitter)
        case lighting(PCALighting, alphaStd: Float)
    }

    let steps: [Step]
    /// Index in `steps` of the last centre crop: where ten-crop views are cut.
    let tenCropStep: Int?
    /// Normalisation folded into one multiply-add: `x * scale[c] + offset[c]`.
    let scale: SIMD4<Float>, offset: SIMD4<Float>
    /// Channels `mean` and `std` describe (nil: no normalisation, any channel count).
    let normalisedChannels: Int?

    /// `mean` and `std` are per channel (both empty: none). `lighting` is the
    /// fitted decomposition for lighting steps whose config gives none
    /// (needed then: a missing one is a programming error).
    public init(_ operations: [TransformOperation], mean: [Float], std: [Float], lighting: PCALighting?) {
        precondition(mean.count == std.count && mean.count <= 4, "TransformChain: \(mean.count) means for \(std.count) stds")
        steps = operations.map { op -> Step in
            switch op {
            case .resize(let size): return .resize(size)
            case .centerCrop(let h, let w): return .centerCrop(height: h, width: w)
            case .randomCrop(let h, let w, let p): return .randomCrop(height: h, width: w, padding: p)
            case .randomResizedCrop(let h, let w, let s, let r): return .randomResizedCrop(height: h, width: w, scale: s, ratio: r)
            case .flip: return .flip
            case .colorJitter(let b, let c, let s): return .colorJitter(ColorJitter(brightness: Float(b), contrast: Float(c), saturation: Float(s)))
            case .lighting(let alphaStd, let values?, let vectors?):
                let given = PCALighting(eigenvalues: SIMD3(values.map(Float.init)),
                                        eigenvectors: vectors.map { SIMD3($0.map(Float.init)) })
                return .lighting(given, alphaStd: Float(alphaStd))
            case .lighting(let alphaStd, _, _):
                guard let lighting else { preconditionFailure("TransformChain: a lighting step without eigenvectors needs a fitted PCALighting") }
                return .lighting(lighting, alphaStd: Float(alphaStd))
            }
        }
        tenCropStep = steps.lastIndex { if case .centerCrop = $0 { true } else { false } }
        var scale = SIMD4<Float>.one, offset = SIMD4<Float>.zero
        for c in mean.indices { scale[c] = 1 / std[c]; offset[c] = -mean[c] / std[c] }
        self.scale = scale; self.offset = offset
        normalisedChannels = mean.isEmpty ? nil : mean.count
    }

    /// The chain has a lighting step, which needs RGB images.
    public var needsRGB: Bool { steps.contains { if case .lighting = $0 { true } else { false } } }

    /// The (height, width) the chain produces from an image of `input` size.
    public func outputSize(input: (height: Int, width: Int)) -> (height: Int, width: Int) {
        steps.reduce(input) { size, step in
            switch step {
            case .resize(let target): resizedSize(size, target)
            case .centerCrop(let h, let w), .randomCrop(let h, let w, _), .randomResizedCrop(let h, let w, _, _): (h, w)
            case .flip, .colorJitter, .lighting: size
            }
        }
    }

    /// Transforms one image and writes it, normalised, as float CHW into
    /// `output` (`channels * outputSize`). Random draws come from
    /// CounterRNG(seed, .augmentation, epoch, index), in list order, so a
    /// sample is the same on any worker. `view` (0 centre, 1-4 the corners
    /// TL, TR, BL, BR, 5-9 the same mirrored) picks a ten-crop view at the
    /// last centre crop.
    public func apply(_ image: PixelView, into output: UnsafeMutablePointer<Float>, scratch: TransformScratch,
                      seed: UInt64, epoch: Int, index: Int, view: Int = 0) {
        precondition(normalisedChannels == nil || normalisedChannels == image.channels,
                     "TransformChain: normalisation for \(normalisedChannels ?? 0) channels, image has \(image.channels)")
        precondition(!needsRGB || image.channels == 3, "TransformChain: lighting needs RGB images, found \(image.channels) channel(s)")
        var rng = CounterRNG(seed: seed, stream: .augmentation, UInt64(epoch), UInt64(index))
        var current = WindowedImage(image)
        for (i, step) in steps.enumerated() {
            switch step {
            case .resize(let target):
                let (h, w) = resizedSize((current.height, current.width), target)
                if h != current.height || w != current.width { current.resize(height: h, width: w, image, scratch) }
            case .centerCrop(let h, let w):
                if i == tenCropStep && view != 0 {
                    cutView(view, height: h, width: w, of: &current, image, scratch)
                } else {
                    current.crop(top: centreOffset(length: current.height, crop: h), left: centreOffset(length: current.width, crop: w),
                                 height: h, width: w, image, scratch)
                }
            case .randomCrop(let h, let w, let p):
                let rangeY = current.height + 2 * p - h + 1, rangeX = current.width + 2 * p - w + 1
                // A crop larger than the padded image is centred instead (zero-filled).
                let top = rangeY > 0 ? rng.below(rangeY) - p : centreOffset(length: current.height, crop: h)
                let left = rangeX > 0 ? rng.below(rangeX) - p : centreOffset(length: current.width, crop: w)
                current.crop(top: top, left: left, height: h, width: w, image, scratch)
            case .randomResizedCrop(let h, let w, let s, let r):
                let box = randomResizedCropBox(height: current.height, width: current.width, scale: s, ratio: r) { rng.uniformDouble() }
                current.crop(top: box.top, left: box.left, height: box.height, width: box.width, image, scratch)
                if box.height != h || box.width != w { current.resize(height: h, width: w, image, scratch) }
            case .flip:
                if rng.below(2) == 1 { current.flip() }
            case .colorJitter(let jitter):
                let draw = jitter.draw(&rng)
                let pixels = current.prepareForPixels(image, scratch)
                draw.apply(to: pixels, channels: current.channels, plane: current.height * current.width)
            case .lighting(let lighting, let alphaStd):
                let shift = lighting.shift(alphaStd: alphaStd, &rng)
                current.shift += shift
                current.padFill += shift
            }
        }
        current.write(image, scratch, into: output, scale: scale, offset: offset)
    }

    /// Ten-crop view `view` (1-9) of `h x w`: corners TL, TR, BL, BR for
    /// 1-4, and for 5-9 the crop of view - 5, mirrored.
    private func cutView(_ view: Int, height h: Int, width w: Int, of current: inout WindowedImage,
                         _ image: PixelView, _ scratch: TransformScratch) {
        let corner = view % 5
        let top = corner == 0 ? centreOffset(length: current.height, crop: h) : corner <= 2 ? 0 : current.height - h
        let left = corner == 0 ? centreOffset(length: current.width, crop: w) : corner % 2 == 1 ? 0 : current.width - w
        current.crop(top: top, left: left, height: h, width: w, image, scratch)
        if view >= 5 { current.flip() }
    }
}

/// torchvision `Resize`: `.side(s)` makes the shorter side `s` and the longer
/// `int(s * long / short)` (truncated); `.exact` is the size given.
func resizedSize(_ size: (Int, Int), _ target: TransformOperation.Size) -> (Int, Int) {
    switch target {
    case .exact(let h, let w): return (h, w)
    case .side(let s):
        let (h, w) = size
        return h <= w ? (s, Int(Double(s * w) / Double(h))) : (Int(Double(s * h) / Double(w)), s)
    }
}
