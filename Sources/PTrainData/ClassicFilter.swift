import Foundation
import PTrain

/// The classic 3x3 image kernels, applied with ptrain's own convolution layer
/// (a depthwise `Conv2D`: one filter per channel, zero padding 1, so the
/// output has the input's size). Results are rounded and clamped to 0...255.
public enum ClassicFilter: String, CaseIterable, Sendable {
    case edge1, edge2, edge3, sharpen, box, gaussian

    /// Row-major 3x3 weights (as cross-correlation, which for these symmetric
    /// kernels equals convolution).
    public var weights: [Float] {
        switch self {
        case .edge1: return [1, 0, -1, 0, 0, 0, -1, 0, 1]
        case .edge2: return [0, -1, 0, -1, 4, -1, 0, -1, 0]
        case .edge3: return [-1, -1, -1, -1, 8, -1, -1, -1, -1]
        case .sharpen: return [0, -1, 0, -1, 5, -1, 0, -1, 0]
        case .box: return [Float](repeating: 1.0 / 9, count: 9)
        case .gaussian: return [1, 2, 1, 2, 4, 2, 1, 2, 1].map { $0 / 16 }
        }
    }

    public func apply(to image: Image8) -> Image8 {
        let c = image.channels, h = image.height, w = image.width
        let layer = Conv2D(name: "filter", input: TensorShape(c, h, w), filters: c, kernel: (3, 3), padding: (1, 1),
                           groups: c, bias: false)
        layer.allocate(maxBatch: 1)
        let weights = FloatBuffer(count: 9 * c), unused = FloatBuffer(count: 9 * c)
        for ch in 0..<c { for i in 0..<9 { weights.pointer[ch * 9 + i] = self.weights[i] } }
        layer.bind(parameters: [weights.pointer], gradients: [unused.pointer])
        // Interleaved HWC bytes -> planar CHW floats, and back.
        let x = FloatBuffer(count: c * h * w), y = FloatBuffer(count: c * h * w)
        for p in 0..<(h * w) { for ch in 0..<c { x.pointer[ch * h * w + p] = Float(image.pixels[p * c + ch]) } }
        layer.forward(x.pointer, y.pointer, batch: 1, context: StepContext(seed: 0, maxBatch: 1))
        var out = [UInt8](repeating: 0, count: c * h * w)
        for p in 0..<(h * w) {
            for ch in 0..<c { out[p * c + ch] = UInt8(max(0, min(255, y.pointer[ch * h * w + p].rounded()))) }
        }
        return Image8(width: w, height: h, channels: c, pixels: out)
    }
}

/// A grid of training samples as the network sees them (after augmentation),
/// normalisation undone, for `ptrain show-data`.
public enum SampleGrid {
    public static func make(_ set: SampleSet, data: DataConfig, count: Int, epoch: Int, seed: UInt64) -> Image8 {
        let shape = set.shape
        let n = min(count, set.count)
        let columns = max(1, Int(Double(n).squareRoot().rounded(.up)))
        let rows = (n + columns - 1) / columns
        let gap = 2, cellW = shape.width + gap, cellH = shape.height + gap
        let channels = shape.channels == 3 ? 3 : 1
        var pixels = [UInt8](repeating: 255, count: rows * cellH * columns * cellW * channels)
        let input = FloatBuffer(count: n * shape.count)
        var labels = [Int32](repeating: 0, count: n)
        labels.withUnsafeMutableBufferPointer { set.fill(0..<n, input: input.pointer, labels: $0.baseAddress!, epoch: epoch, seed: seed) }
        let mean = data.mean.isEmpty ? [Float](repeating: 0, count: shape.channels) : data.mean
        let std = data.std.isEmpty ? [Float](repeating: 1, count: shape.channels) : data.std
        for i in 0..<n {
            let ox = (i % columns) * cellW + gap / 2, oy = (i / columns) * cellH + gap / 2
            for ch in 0..<channels {
                for y in 0..<shape.height {
                    for x in 0..<shape.width {
                        let v = input.pointer[i * shape.count + (ch * shape.height + y) * shape.width + x] * std[ch] + mean[ch]
                        pixels[((oy + y) * columns * cellW + ox + x) * channels + ch] = UInt8(max(0, min(255, (v * 255).rounded())))
                    }
                }
            }
        }
        return Image8(width: columns * cellW, height: rows * cellH, channels: channels, pixels: pixels)
    }
}
