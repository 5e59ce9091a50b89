/// The filter taps of a one-dimensional antialiased bilinear resize, as PIL's
/// BILINEAR and torchvision's `antialias=True` compute them: output sample
/// `i` is centred at input coordinate `(i + 0.5) * scale` (scale = input /
/// output length), and the triangle filter's support is widened by the scale
/// when shrinking, so every input pixel contributes. Weights are normalised
/// to sum to 1 over the taps inside the input.
final class ResizeTaps {
    /// Per output sample: its first input index and tap count; `weights` holds
    /// `stride` slots per output sample, the first `count` used.
    let first = GrowableBuffer<Int>(), count = GrowableBuffer<Int>()
    let weights = GrowableBuffer<Float>()
    private(set) var stride = 0

    /// Computes the taps resampling `input` samples to `output`.
    func compute(input: Int, output: Int) {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = filterScale  // the triangle's support is 1 input pixel, widened when shrinking
        stride = Int(support.rounded(.up)) * 2 + 1
        let first = first.reserve(output), count = count.reserve(output)
        let weights = weights.reserve(output * stride)
        for i in 0..<output {
            let centre = (Double(i) + 0.5) * scale
            let lo = max(Int(centre - support + 0.5), 0), hi = min(Int(centre + support + 0.5), input)
            var total = 0.0
            for k in 0..<(hi - lo) { total += triangle((Double(k + lo) - centre + 0.5) / filterScale) }
            for k in 0..<(hi - lo) {
                let w = triangle((Double(k + lo) - centre + 0.5) / filterScale)
                weights[i * stride + k] = Float(total == 0 ? 0 : w / total)
            }
            first[i] = lo
            count[i] = hi - lo
        }
    }

    private func triangle(_ x: Double) -> Double { max(0, 1 - abs(x)) }
}

/// Resizes the region `rows x columns` (in element coordinates of `source`)
/// of a `channels`-channel image to `height x width`, written as float CHW
/// into `output`, each value multiplied by `valueScale` (1 / maxValue for
/// bytes). Separable: columns first into `scratch.resizeRows`
/// (`[channels, rows.count, width]`), then rows; a pass whose length does
/// not change is a plain copy.
func resizeRegion<T: PixelSample>(_ source: UnsafePointer<T>, strides: PixelStrides, channels: Int,
                                  rows: Range<Int>, columns: Range<Int>, valueScale: Float,
                                  into output: UnsafeMutablePointer<Float>, height: Int, width: Int,
                                  scratch: TransformScratch) {
    let inRows = rows.count
    // With the row count unchanged the column pass writes the result directly.
    let columnOutput = inRows == height ? output : scratch.resizeRows.reserve(channels * inRows * width)
    let sameWidth = columns.count == width
    let taps = scratch.columnTaps
    if !sameWidth { taps.compute(input: columns.count, output: width) }
    for r in 0..<inRows {
        let src = source + (rows.lowerBound + r) * strides.row + columns.lowerBound * strides.column
        if sameWidth {
            for c in 0..<channels {
                let s = src + c * strides.channel, dst = columnOutput + (c * inRows + r) * width
                for x in 0..<width { dst[x] = s[x * strides.column].floatValue * valueScale }
            }
            continue
        }
        // All channels of a tap at once: one pass over the taps, neighbouring loads when interleaved.
        for x in 0..<width {
            let w = taps.weights.pointer + x * taps.stride
            let s = src + taps.first.pointer[x] * strides.column
            var sum = SIMD4<Float>.zero
            for k in 0..<taps.count.pointer[x] {
                let p = s + k * strides.column
                var v = SIMD4<Float>.zero
                for c in 0..<channels { v[c] = p[c * strides.channel].floatValue }
                sum += w[k] * v
            }
            sum *= valueScale
            for c in 0..<channels { columnOutput[(c * inRows + r) * width + x] = sum[c] }
        }
    }
    guard inRows != height else { return }
    let rowTaps = scratch.rowTaps
    rowTaps.compute(input: inRows, output: height)
    for c in 0..<channels {
        for y in 0..<height {
            let dst = output + (c * height + y) * width
            dst.update(repeating: 0, count: width)
            let w = rowTaps.weights.pointer + y * rowTaps.stride
            for k in 0..<rowTaps.count.pointer[y] {
                let src = columnOutput + (c * inRows + rowTaps.first.pointer[y] + k) * width
                let wk = w[k]
                for x in 0..<width { dst[x] += wk * src[x] }
            }
        }
    }
}
