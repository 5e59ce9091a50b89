import PTrain

/// Decodes JPEG and PNG image files into 8-bit RGB or gray pixels.
///
/// One decoder per thread (not Sendable): it reuses its file buffer, its
/// pixel buffer (both grow-only) and its library handles, so decoding the
/// N-th image allocates nothing in Swift once the buffers are big enough
/// (libjpeg-turbo and libpng still allocate their per-image state in C).
public final class ImageDecoder {
    /// The largest image decoded, in pixels (width × height): 2^28, e.g.
    /// 16384 × 16384. A header that claims more (a corrupt size or a
    /// decompression bomb) is refused before its buffer is allocated.
    public static let maximumPixels = 1 << 28

    private let file = ReusableBuffer(), pixels = ReusableBuffer()
    private let jpeg = JPEGDecoder(), png = PNGDecoder()

    public init() {}

    /// Reads `path` into the reused file buffer and decodes it. A missing or
    /// unreadable file, a directory, a FIFO (never blocks) and an empty file
    /// each get their own one-line error naming the path.
    public func decodeFile(_ path: String, channels: Int, minimumShorterSide: Int? = nil) throws -> DecodedImage {
        let count = try file.readFile(path)
        return try decode(UnsafeRawBufferPointer(start: file.base, count: count), path: path, channels: channels,
                          minimumShorterSide: minimumShorterSide)
    }

    /// Decodes a JPEG or PNG, recognised by its signature (not by extension),
    /// to `channels` 3 (RGB; gray replicated) or 1 (gray; colour by PIL's
    /// convert("L")). With `minimumShorterSide`, a JPEG is decoded at the
    /// smallest DCT scale (1/8 ... 1) whose shorter side is still at least that,
    /// so a later resize only shrinks; a PNG is always decoded at full size.
    /// `path` is for messages only. The result is valid until the next call.
    public func decode(_ bytes: UnsafeRawBufferPointer, path: String, channels: Int,
                       minimumShorterSide: Int? = nil) throws -> DecodedImage {
        guard channels == 1 || channels == 3 else {
            throw DataError("\(path): cannot decode to \(channels) channels, expected 1 (gray) or 3 (RGB)")
        }
        guard !bytes.isEmpty else { throw DataError("\(path): empty file (0 bytes)") }
        switch ImageSignature(bytes) {
        case .jpeg:
            return try jpeg.decode(bytes, path: path, channels: channels, minimumShorterSide: minimumShorterSide, into: pixels)
        case .png:
            return try png.decode(bytes, path: path, channels: channels, into: pixels)
        case nil:
            throw ImageSignature.unrecognised(bytes, path: path)
        }
    }

    /// Refuses images above `maximumPixels`: `PATH: image is 70000x70000 pixels, more than the limit of 268435456`.
    static func checkSize(width: Int, height: Int, path: String) throws {
        guard width * height <= maximumPixels else {
            throw DataError("\(path): image is \(width)x\(height) pixels, more than the limit of \(maximumPixels)")
        }
    }
}
