/// A decoded image as a view of its decoder's pixel buffer: `pixels` is
/// `[height, width, channels]`, interleaved (HWC), one byte per sample,
/// channels 3 (RGB) or 1 (gray).
///
/// Valid only until that decoder's next call (the buffer is reused) and while
/// the decoder lives (keep a reference: a temporary `ImageDecoder()` may be
/// freed as soon as `decode` returns); copy with `image8()` to keep it.
public struct DecodedImage {
    public let width: Int, height: Int, channels: Int
    public let pixels: UnsafePointer<UInt8>
    /// What the file stores before conversion to `channels`: 1 for gray (and
    /// gray + alpha), 3 for colour (RGB, palette, YCbCr, CMYK).
    public let storedChannels: Int

    /// An owned copy of the pixels.
    public func image8() -> Image8 {
        Image8(width: width, height: height, channels: channels,
               pixels: Array(UnsafeBufferPointer(start: pixels, count: width * height * channels)))
    }
}
