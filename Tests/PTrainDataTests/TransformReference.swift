import PTrain
import PTrainData

// Plain, slow references for the transform tests, written straight from the
// formulas (torchvision / PIL semantics) on Double CHW images, eager at every
// step: padding, mirroring and lighting are real pixel operations here.

/// A CHW image of Doubles in [0, 1] units.
struct ReferenceImage: Equatable {
    var channels: Int, height: Int, width: Int
    var values: [Double]

    subscript(c: Int, y: Int, x: Int) -> Double {
        get { values[(c * height + y) * width + x] }
        set { values[(c * height + y) * width + x] = newValue }
    }

    /// From uint8 interleaved HWC bytes.
    init(interleaved bytes: [UInt8], height: Int, width: Int, channels: Int, maxValue: Double = 255) {
        self.init(channels: channels, height: height, width: width, values: [])
        values = (0..<channels * height * width).map { i in
            let c = i / (height * width), y = i / width % height, x = i % width
            return Double(bytes[(y * width + x) * channels + c]) / maxValue
        }
    }

    init(channels: Int, height: Int, width: Int, values: [Double]) {
        self.channels = channels; self.height = height; self.width = width; self.values = values
    }

    init(channels: Int, height: Int, width: Int, _ value: (Int, Int, Int) -> Double) {
        self.init(channels: channels, height: height, width: width, values: [])
        values = (0..<channels * height * width).map { i in value(i / (height * width), i / width % height, i % width) }
    }

    /// `h x w` at (top, left), zero outside the image.
    func crop(top: Int, left: Int, height h: Int, width w: Int) -> ReferenceImage {
        ReferenceImage(channels: channels, height: h, width: w) { c, y, x in
            let sy = y + top, sx = x + left
            return sy >= 0 && sy < height && sx >= 0 && sx < width ? self[c, sy, sx] : 0
        }
    }

    func mirrored() -> ReferenceImage {
        ReferenceImage(channels: channels, height: height, width: width) { c, y, x in self[c, y, width - 1 - x] }
    }

    /// Antialiased bilinear: each output pixel is a weighted sum over all input
    /// pixels, weights a triangle of half-width `max(scale, 1)` input pixels
    /// centred at `(o + 0.5) * scale`, normalised per axis.
    func resized(height oh: Int, width ow: Int) -> ReferenceImage {
        let wy = axisWeights(input: height, output: oh), wx = axisWeights(input: width, output: ow)
        return ReferenceImage(channels: channels, height: oh, width: ow) { c, oy, ox in
            var sum = 0.0
            for y in 0..<height { for x in 0..<width { sum += wy[oy][y] * wx[ox][x] * self[c, y, x] } }
            return sum
        }
    }

    /// torchvision ColorJitter's adjustments in the drawn order, each clamped to [0, 1].
    func jittered(_ d: ColorJitter.Draw) -> ReferenceImage {
        var out = self
        func gray(_ y: Int, _ x: Int) -> Double { 0.2989 * out[0, y, x] + 0.587 * out[1, y, x] + 0.114 * out[2, y, x] }
        func blend(_ f: Double, _ other: (Int, Int, Int) -> Double) {
            out = ReferenceImage(channels: channels, height: height, width: width) { c, y, x in
                min(max(f * out[c, y, x] + (1 - f) * other(c, y, x), 0), 1)
            }
        }
        for i in 0..<3 {
            switch d.order[i] {
            case 0: if let f = d.brightness { blend(Double(f)) { _, _, _ in 0 } }
            case 1:
                if let f = d.contrast {
                    var mean = 0.0
                    for y in 0..<height { for x in 0..<width { mean += channels == 3 ? gray(y, x) : out[0, y, x] } }
                    mean /= Double(height * width)
                    blend(Double(f)) { _, _, _ in mean }
                }
            default: if let f = d.saturation, channels == 3 { blend(Double(f)) { _, y, x in gray(y, x) } }
            }
        }
        return out
    }
}

/// `weights[o][i]`: the normalised triangle weights of input `i` for output `o`.
func axisWeights(input: Int, output: Int) -> [[Double]] {
    let scale = Double(input) / Double(output), support = max(scale, 1)
    return (0..<output).map { o in
        let centre = (Double(o) + 0.5) * scale
        let w = (0..<input).map { i in max(0, 1 - abs((Double(i) + 0.5 - centre) / support)) }
        let total = w.reduce(0, +)
        return w.map { $0 / total }
    }
}

/// torchvision CenterCrop's offset: half the difference, rounded half to even;
/// for a larger crop, minus half the excess rounded down.
func referenceCentreOffset(_ length: Int, _ crop: Int) -> Int {
    if crop > length { return -((crop - length) / 2) }
    let twice = length - crop
    return twice % 2 == 0 ? twice / 2 : (twice / 2) % 2 == 0 ? twice / 2 : twice / 2 + 1
}

/// The chain's result, eagerly: the same draws from the same keyed generator
/// in list order, then `(x - mean) / std`.
func referenceChain(_ ops: [TransformOperation], _ input: ReferenceImage, mean: [Double], std: [Double],
                    seed: UInt64, epoch: Int, index: Int, view: Int = 0) -> ReferenceImage {
    var rng = CounterRNG(seed: seed, stream: .augmentation, UInt64(epoch), UInt64(index))
    var image = input
    let lastCentre = ops.lastIndex { if case .centerCrop = $0 { true } else { false } }
    for (i, op) in ops.enumerated() {
        switch op {
        case .resize(.exact(let h, let w)):
            if h != image.height || w != image.width { image = image.resized(height: h, width: w) }
        case .resize(.side(let s)):
            let (h, w) = image.height <= image.width ? (s, s * image.width / image.height) : (s * image.height / image.width, s)
            if h != image.height || w != image.width { image = image.resized(height: h, width: w) }
        case .centerCrop(let h, let w):
            let corner = i == lastCentre ? view % 5 : 0
            let top = corner == 0 ? referenceCentreOffset(image.height, h) : corner <= 2 ? 0 : image.height - h
            let left = corner == 0 ? referenceCentreOffset(image.width, w) : corner % 2 == 1 ? 0 : image.width - w
            image = image.crop(top: top, left: left, height: h, width: w)
            if i == lastCentre && view >= 5 { image = image.mirrored() }
        case .randomCrop(let h, let w, let p):
            let padded = image.crop(top: -p, left: -p, height: image.height + 2 * p, width: image.width + 2 * p)
            let top = rng.below(padded.height - h + 1), left = rng.below(padded.width - w + 1)
            image = padded.crop(top: top, left: left, height: h, width: w)
        case .randomResizedCrop(let h, let w, let scale, let ratio):
            let box = randomResizedCropBox(height: image.height, width: image.width, scale: scale, ratio: ratio) { rng.uniformDouble() }
            image = image.crop(top: box.top, left: box.left, height: box.height, width: box.width)
            if box.height != h || box.width != w { image = image.resized(height: h, width: w) }
        case .flip:
            if rng.below(2) == 1 { image = image.mirrored() }
        case .colorJitter(let b, let c, let s):
            image = image.jittered(ColorJitter(brightness: Float(b), contrast: Float(c), saturation: Float(s)).draw(&rng))
        case .lighting(let alphaStd, let values, let vectors):
            let alpha = (0..<3).map { _ in Double(rng.normal()) }
            for c in 0..<3 {
                var shift = 0.0
                for k in 0..<3 { shift += vectors![c][k] * alpha[k] * alphaStd * values![k] }
                for p in 0..<image.height * image.width { image.values[c * image.height * image.width + p] += shift }
            }
        }
    }
    if !mean.isEmpty {
        let plane = image.height * image.width
        for i in image.values.indices { image.values[i] = (image.values[i] - mean[i / plane]) / std[i / plane] }
    }
    return image
}
