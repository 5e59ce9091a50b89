import CPNGCodec
import Foundation
import CTurboJPEG

/// Encodes 8-bit gray or RGB images as PNG (libpng) or JPEG (libjpeg-turbo),
/// for tools (make-image-folder, filter) and tests.
public enum ImageEncoder {
    /// JPEG chroma subsampling of colour images (gray ones have no chroma).
    public enum ChromaSubsampling: Sendable {
        /// Chroma at half resolution both ways: PIL's default.
        case yuv420
        /// Full-resolution chroma, for near-lossless round trips.
        case yuv444
    }

    /// A non-interlaced 8-bit PNG (gray or RGB as the image is), zlib's default level.
    public static func png(_ image: Image8) throws -> [UInt8] {
        var message = [CChar](repeating: 0, count: 256)
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            ptrain_png_encode(pixels.baseAddress, UInt32(image.width), UInt32(image.height), Int32(image.channels),
                              &output, &size, &message, message.count)
        }
        guard status == 0, let output else {
            throw DataError("cannot encode a \(image.width)x\(image.height) image as PNG (libpng: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))))")
        }
        defer { free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }

    /// A baseline JPEG at `quality` (1...100), 4:2:0 by default (as PIL).
    public static func jpeg(_ image: Image8, quality: Int, subsampling: ChromaSubsampling = .yuv420) throws -> [UInt8] {
        guard (1...100).contains(quality) else { throw DataError("JPEG quality: expected 1...100, found \(quality)") }
        guard let handle = tjInitCompress() else { throw DataError("tjInitCompress: out of memory") }
        defer { tjDestroy(handle) }
        let gray = image.channels == 1
        let chroma = gray ? TJSAMP_GRAY : (subsampling == .yuv420 ? TJSAMP_420 : TJSAMP_444)
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            tjCompress2(handle, pixels.baseAddress, Int32(image.width), 0, Int32(image.height),
                        Int32((gray ? TJPF_GRAY : TJPF_RGB).rawValue), &output, &size, Int32(chroma.rawValue),
                        Int32(quality), 0)
        }
        defer { tjFree(output) }
        guard status == 0, let output else {
            throw DataError("cannot encode a \(image.width)x\(image.height) image as JPEG (libjpeg-turbo: \(String(cString: tjGetErrorStr2(handle))))")
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }
}
