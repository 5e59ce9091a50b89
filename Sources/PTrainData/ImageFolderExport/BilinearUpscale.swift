/// Bilinear resampling of an 8-bit image, for enlarging small dataset images
/// (CIFAR's 32 px) to photograph-like sizes so that decoding costs what it
/// would for real photographs. Not antialiased: for shrinking, use the
/// training transforms' resize.
package enum BilinearUpscale {
    /// Output pixel centres map to input coordinates (x + 0.5)·in/out − 0.5
    /// (half-pixel centres, as PIL and OpenCV), clamped to the edge pixels;
    /// each sample is the weighted mean of the 2×2 neighbours, rounded.
    package static func resize(_ image: Image8, width: Int, height: Int) -> Image8 {
        let c = image.channels
        var out = [UInt8](repeating: 0, count: width * height * c)
        let xs = (0..<width).map { taps(out: $0, outSize: width, inSize: image.width) }
        for y in 0..<height {
            let (y0, y1, fy) = taps(out: y, outSize: height, inSize: image.height)
            for x in 0..<width {
                let (x0, x1, fx) = xs[x]
                for k in 0..<c {
                    func at(_ yy: Int, _ xx: Int) -> Double { Double(image.pixels[(yy * image.width + xx) * c + k]) }
                    let top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
                    let bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
                    out[(y * width + x) * c + k] = UInt8((top * (1 - fy) + bottom * fy).rounded())
                }
            }
        }
        return Image8(width: width, height: height, channels: c, pixels: out)
    }

    /// The two input indices around output index `out` and the weight of the second.
    private static func taps(out: Int, outSize: Int, inSize: Int) -> (Int, Int, Double) {
        let position = min(max((Double(out) + 0.5) * Double(inSize) / Double(outSize) - 0.5, 0), Double(inSize - 1))
        let first = Int(position)
        return (first, min(first + 1, inSize - 1), position - Double(first))
    }
}
