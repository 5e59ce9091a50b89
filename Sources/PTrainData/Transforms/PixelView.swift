/// A borrowed uint8 image: the decoder's interleaved HWC output, or one image
/// of an in-memory ImageSet (planar CHW). Values are in `0...maxValue` (255;
/// 16 for the scikit-learn digits). The pointer must stay valid while in use.
public struct PixelView {
    /// Interleaved: `pixels[(y * width + x) * channels + c]`; planar: `pixels[(c * height + y) * width + x]`.
    public enum Layout: Sendable { case interleaved, planar }

    public let width: Int, height: Int, channels: Int
    public let layout: Layout
    public let pixels: UnsafePointer<UInt8>
    public let maxValue: Float

    public init(width: Int, height: Int, channels: Int, layout: Layout, pixels: UnsafePointer<UInt8>, maxValue: Float = 255) {
        precondition(width > 0 && height > 0 && (1...4).contains(channels) && maxValue > 0,
                     "PixelView: bad shape \(width)x\(height)x\(channels), maxValue \(maxValue)")
        self.width = width; self.height = height; self.channels = channels
        self.layout = layout; self.pixels = pixels; self.maxValue = maxValue
    }

    /// Element distances between neighbouring channels, rows and columns.
    var strides: PixelStrides {
        switch layout {
        case .interleaved: PixelStrides(channel: 1, row: width * channels, column: channels)
        case .planar: PixelStrides(channel: height * width, row: width, column: 1)
        }
    }
}

/// How to step through an image in memory, in elements.
struct PixelStrides {
    var channel: Int, row: Int, column: Int

    /// Planar CHW of this size.
    static func planar(height: Int, width: Int) -> PixelStrides { PixelStrides(channel: height * width, row: width, column: 1) }
}

/// A pixel type a transform can read: uint8 from the decoder or float from a scratch buffer.
protocol PixelSample { var floatValue: Float { get } }
extension UInt8: PixelSample { @inline(__always) var floatValue: Float { Float(self) } }
extension Float: PixelSample { @inline(__always) var floatValue: Float { self } }
