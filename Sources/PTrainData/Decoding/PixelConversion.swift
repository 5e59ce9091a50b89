/// In-place conversions between the pixel layouts the libraries produce and
/// the ones asked for, matching PIL's `Image.convert` so images decoded here
/// equal those a PyTorch/PIL pipeline sees.
enum PixelConversion {
    /// `count` interleaved RGB pixels at `pixels` become `count` gray bytes at
    /// the start of the same buffer, by PIL's `convert("L")` (ITU-R 601-2
    /// luma, L = R·299/1000 + G·587/1000 + B·114/1000, computed as PIL does in
    /// 16-bit fixed point, rounded). In place is safe: gray byte i is written
    /// after RGB bytes 3i...3i+2 are read, and i ≤ 3i.
    static func rgbToGray(_ pixels: UnsafeMutablePointer<UInt8>, count: Int) {
        for i in 0..<count {
            let r = UInt32(pixels[3 * i]), g = UInt32(pixels[3 * i + 1]), b = UInt32(pixels[3 * i + 2])
            pixels[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
        }
    }

    /// `count` 4-byte CMYK pixels as TurboJPEG returns them (Adobe's inverted
    /// convention: 255 is no ink) become `count` RGB pixels at the start of
    /// the same buffer: R = C·K/255 rounded (likewise G from M, B from Y),
    /// which is libjpeg-turbo's own CMYK→RGB and PIL's for Adobe JPEGs. In
    /// place is safe: RGB bytes 3i... are written after CMYK bytes 4i... are read.
    static func invertedCMYKToRGB(_ pixels: UnsafeMutablePointer<UInt8>, count: Int) {
        for i in 0..<count {
            let k = UInt32(pixels[4 * i + 3])
            for c in 0..<3 {
                pixels[3 * i + c] = UInt8((UInt32(pixels[4 * i + c]) * k + 127) / 255)
            }
        }
    }
}
