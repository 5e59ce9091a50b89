import PTrain

/// torchvision's `ColorJitter` (without hue) on float images in [0, 1]:
/// brightness scales the image, contrast blends it with the mean of its
/// grayscale, saturation with its grayscale; each result clamped to [0, 1].
/// Factors are uniform in [max(0, 1 - v), 1 + v]; 0 switches one off.
public struct ColorJitter: Sendable, Equatable {
    public var brightness: Float, contrast: Float, saturation: Float

    public init(brightness: Float, contrast: Float, saturation: Float) {
        self.brightness = brightness; self.contrast = contrast; self.saturation = saturation
    }

    /// The order (a permutation of 0 brightness, 1 contrast, 2 saturation) and the factors of one image.
    public struct Draw: Equatable {
        public var order: SIMD3<Int>
        /// Per adjustment, by the numbering above; nil = off.
        public var brightness: Float?, contrast: Float?, saturation: Float?

        public init(order: SIMD3<Int>, brightness: Float?, contrast: Float?, saturation: Float?) {
            self.order = order; self.brightness = brightness; self.contrast = contrast; self.saturation = saturation
        }
    }

    /// Draws the order first and then the factors, as torchvision does.
    public func draw(_ rng: inout CounterRNG) -> Draw {
        var order = SIMD3(0, 1, 2)
        for i in stride(from: 2, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        func factor(_ v: Float) -> Float? { v == 0 ? nil : max(0, 1 - v) + rng.uniform() * (1 + v - max(0, 1 - v)) }
        return Draw(order: order, brightness: factor(brightness), contrast: factor(contrast), saturation: factor(saturation))
    }
}

extension SIMD3<Int> {
    fileprivate mutating func swapAt(_ i: Int, _ j: Int) { let t = self[i]; self[i] = self[j]; self[j] = t }
}

extension ColorJitter.Draw {
    /// Applies the adjustments in order, in place, to a CHW image of
    /// `channels` planes of `plane` pixels. With one channel the contrast
    /// mean is the image's and saturation does nothing (as torchvision).
    public func apply(to image: UnsafeMutablePointer<Float>, channels: Int, plane: Int) {
        for i in 0..<3 {
            switch order[i] {
            case 0: if let f = brightness { blend(image, count: channels * plane, factor: f, with: 0) }
            case 1: if let f = contrast { blend(image, count: channels * plane, factor: f, with: grayMean(image, channels: channels, plane: plane)) }
            default: if let f = saturation, channels == 3 { blendWithGray(image, plane: plane, factor: f) }
            }
        }
    }

    /// `x = clamp(f * x + (1 - f) * other, 0, 1)`.
    private func blend(_ x: UnsafeMutablePointer<Float>, count: Int, factor f: Float, with other: Float) {
        let o = (1 - f) * other
        for i in 0..<count { x[i] = min(max(f * x[i] + o, 0), 1) }
    }

    /// Mean of the grayscale image (ITU-R 601-2 luma, as torchvision's rgb_to_grayscale).
    private func grayMean(_ x: UnsafeMutablePointer<Float>, channels: Int, plane: Int) -> Float {
        var sum: Float = 0
        if channels == 3 {
            for p in 0..<plane { sum += luma(x[p], x[plane + p], x[2 * plane + p]) }
        } else {
            for p in 0..<plane * channels { sum += x[p] }
            sum /= Float(channels)
        }
        return sum / Float(plane)
    }

    private func blendWithGray(_ x: UnsafeMutablePointer<Float>, plane: Int, factor f: Float) {
        for p in 0..<plane {
            let g = (1 - f) * luma(x[p], x[plane + p], x[2 * plane + p])
            for c in 0..<3 { x[c * plane + p] = min(max(f * x[c * plane + p] + g, 0), 1) }
        }
    }
}

@inline(__always) func luma(_ r: Float, _ g: Float, _ b: Float) -> Float { 0.2989 * r + 0.587 * g + 0.114 * b }
