import Foundation
import PTrain

/// An 8-bit image in memory: `pixels [height, width, channels]` (interleaved,
/// as in the files), 1 (gray) or 3 (RGB) channels.
public struct Image8: Equatable, Sendable {
    public var width: Int, height: Int, channels: Int
    public var pixels: [UInt8]
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels)
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }
}

/// Reads binary PGM (P5) / PPM (P6) and, through `ImageDecoder`, PNG and JPEG
/// (gray stays gray, anything coloured becomes RGB, alpha dropped); writes
/// PGM / PPM and PNG. The input format is recognised by the file's first
/// bytes; the output format follows the output file's extension.
public enum ImageFile {
    public static func read(_ url: URL) throws -> Image8 {
        let data: Data
        do { data = try RegularFile.read(url.path) } catch let e as RegularFile.ReadError { throw DataError(e.description) }
        let bytes = [UInt8](data)
        if bytes.withUnsafeBytes({ ImageSignature($0) }) != nil {
            return try readDecoded(bytes, path: url.path)
        }
        if bytes.count > 2 && bytes[0] == UInt8(ascii: "P") && (bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6")) {
            return try readPNM(bytes, path: url.path)
        }
        throw DataError("\(url.path): byte offset 0: expected a PNG, JPEG, PGM (P5) or PPM (P6) signature, found \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " "))")
    }

    public static func write(_ image: Image8, to url: URL) throws {
        let ext = url.pathExtension.lowercased()
        let data: [UInt8]
        switch ext {
        case "png": data = try ImageEncoder.png(image)
        case "pgm", "ppm", "pnm":
            guard (ext == "pgm") == (image.channels == 1) || ext == "pnm" else {
                throw DataError("\(url.path): a \(image.channels == 1 ? "gray" : "colour") image goes to .\(image.channels == 1 ? "pgm" : "ppm"), not .\(ext)")
            }
            data = Array("P\(image.channels == 1 ? 5 : 6)\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
        default: throw DataError("\(url.path): unknown image extension '.\(ext)' (expected .png, .pgm or .ppm)")
        }
        do { try Data(data).write(to: url, options: .atomic) } catch {
            throw DataError("\(url.path): cannot write the image (\(error.localizedDescription))")
        }
    }

    /// A PNG or JPEG with the channels it stores: decoded as RGB, and a gray
    /// file (replicated into R, G and B) reduced back to its one channel.
    static func readDecoded(_ bytes: [UInt8], path: String) throws -> Image8 {
        let decoder = ImageDecoder()
        let (rgb, storedChannels) = try withExtendedLifetime(decoder) {  // the decoder owns the pixels until copied
            let decoded = try bytes.withUnsafeBytes { try decoder.decode($0, path: path, channels: 3) }
            return (decoded.image8(), decoded.storedChannels)
        }
        guard storedChannels == 1 else { return rgb }
        return Image8(width: rgb.width, height: rgb.height, channels: 1, pixels: stride(from: 0, to: rgb.pixels.count, by: 3).map { rgb.pixels[$0] })
    }

    // MARK: PNM

    static func readPNM(_ b: [UInt8], path: String) throws -> Image8 {
        let channels = b[1] == UInt8(ascii: "5") ? 1 : 3
        var i = 2
        func number() throws -> Int {
            while i < b.count {  // whitespace and # comments
                if b[i] == UInt8(ascii: "#") { while i < b.count && b[i] != 10 { i += 1 } } else if b[i] <= 32 { i += 1 } else { break }
            }
            let start = i
            while i < b.count && b[i] >= 48 && b[i] <= 57 && i - start < 9 { i += 1 }
            guard i > start, let v = Int(String(decoding: b[start..<i], as: UTF8.self)) else {
                throw DataError("\(path): byte offset \(start): expected a header number")
            }
            return v
        }
        let w = try number(), h = try number(), maxValue = try number()
        guard w > 0, h > 0, w * h <= 1 << 28 else { throw DataError("\(path): impossible image size \(w)x\(h)") }
        guard maxValue == 255 else { throw DataError("\(path): expected 8-bit samples (maxval 255), found maxval \(maxValue)") }
        i += 1  // the single whitespace after maxval
        let need = w * h * channels
        guard b.count - i >= need else { throw DataError("\(path): truncated: \(need) pixel bytes expected from offset \(i), file has \(b.count - i)") }
        return Image8(width: w, height: h, channels: channels, pixels: Array(b[i..<(i + need)]))
    }
}
