import CPNGCodec

/// PNG decoding through libpng (called from C, CPNGCodec, because its errors
/// longjmp), with one reader state reused for every image.
final class PNGDecoder {
    private let reader = UnsafeMutablePointer<ptrain_png_reader>.allocate(capacity: 1)

    init() { reader.initialize(to: ptrain_png_reader()) }

    deinit { reader.deallocate() }

    /// Decodes `bytes` (a PNG, by its signature) into `pixels`: any bit depth,
    /// colour type and interlacing; alpha dropped, 16-bit reduced to its high
    /// byte, colour reduced to gray by PIL's formula when `channels` is 1.
    func decode(_ bytes: UnsafeRawBufferPointer, path: String, channels: Int,
                into pixels: ReusableBuffer) throws -> DecodedImage {
        reader.pointee.data = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        reader.pointee.size = bytes.count
        defer { reader.pointee.data = nil }
        guard ptrain_png_read_header(reader) == 0 else { throw failure(path) }
        let width = Int(reader.pointee.width), height = Int(reader.pointee.height)
        do {
            try ImageDecoder.checkSize(width: width, height: height, path: path)
        } catch {
            ptrain_png_read_abort(reader)
            throw error
        }
        // libpng cannot reduce colour to gray the way PIL does: read RGB, reduce here.
        let color = reader.pointee.is_color != 0
        let readChannels = color ? 3 : channels
        pixels.reserve(width * height * readChannels)
        guard ptrain_png_read_pixels(reader, pixels.base, Int32(readChannels)) == 0 else { throw failure(path) }
        if readChannels > channels { PixelConversion.rgbToGray(pixels.base, count: width * height) }
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels.base,
                            storedChannels: color ? 3 : 1)
    }

    /// `PATH: corrupt PNG (libpng: IDAT: CRC error)`, or `truncated PNG` when
    /// libpng wanted bytes past the end of the file.
    private func failure(_ path: String) -> DataError {
        let message = withUnsafeBytes(of: &reader.pointee.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let kind = reader.pointee.truncated != 0 ? "truncated" : "corrupt"
        return DataError("\(path): \(kind) PNG (libpng: \(message))")
    }
}
