import CZlib
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

/// Reads and writes binary PGM (P5) / PPM (P6) and PNG (8-bit gray, gray+alpha,
/// RGB, RGBA; non-interlaced; alpha dropped). The format is recognised by the
/// file's first bytes; the output format follows the output file's extension.
public enum ImageFile {
    public static func read(_ url: URL) throws -> Image8 {
        let data: Data
        do { data = try RegularFile.read(url.path) } catch let e as RegularFile.ReadError { throw DataError(e.description) }
        let bytes = [UInt8](data)
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return try readPNG(bytes, path: url.path) }
        if bytes.count > 2 && bytes[0] == UInt8(ascii: "P") && (bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6")) {
            return try readPNM(bytes, path: url.path)
        }
        throw DataError("\(url.path): byte offset 0: expected a PNG, PGM (P5) or PPM (P6) signature, found \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " "))")
    }

    public static func write(_ image: Image8, to url: URL) throws {
        let ext = url.pathExtension.lowercased()
        let data: [UInt8]
        switch ext {
        case "png": data = encodePNG(image)
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

    // MARK: PNG

    static func readPNG(_ b: [UInt8], path: String) throws -> Image8 {
        func be32(_ o: Int) -> Int { Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }
        var o = 8, width = 0, height = 0, colorType = -1
        var idat: [UInt8] = []
        while o + 8 <= b.count {
            let length = be32(o), type = String(decoding: b[(o + 4)..<(o + 8)], as: UTF8.self)
            guard length >= 0, o + 12 + length <= b.count else { throw DataError("\(path): byte offset \(o): truncated PNG chunk '\(type)'") }
            let body = Array(b[(o + 8)..<(o + 8 + length)])
            switch type {
            case "IHDR":
                guard length == 13 else { throw DataError("\(path): byte offset \(o): malformed IHDR") }
                width = body[0..<4].reduce(0) { $0 << 8 | Int($1) }; height = body[4..<8].reduce(0) { $0 << 8 | Int($1) }
                colorType = Int(body[9])
                guard body[8] == 8, [0, 2, 4, 6].contains(colorType), body[12] == 0 else {
                    throw DataError("\(path): unsupported PNG (bit depth \(body[8]), colour type \(body[9]), interlace \(body[12])); expected 8-bit, non-interlaced gray or RGB(A)")
                }
                guard width > 0, height > 0, width * height <= 1 << 28 else { throw DataError("\(path): impossible image size \(width)x\(height)") }
            case "IDAT": idat += body
            case "IEND": o = b.count
            default: break
            }
            o += 12 + length
        }
        guard colorType >= 0 else { throw DataError("\(path): PNG without an IHDR chunk") }
        let inChannels = [0: 1, 2: 3, 4: 2, 6: 4][colorType]!
        let stride = width * inChannels
        var raw = [UInt8](repeating: 0, count: (stride + 1) * height)
        var rawLength = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { dst in
            idat.withUnsafeBufferPointer { uncompress(dst.baseAddress!, &rawLength, $0.baseAddress, uLong($0.count)) }
        }
        guard status == Z_OK, Int(rawLength) == raw.count else { throw DataError("\(path): corrupt PNG image data (zlib status \(status))") }
        // Undo the per-row filters (PNG spec section 9).
        var pixels = [UInt8](repeating: 0, count: stride * height)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = raw[y * (stride + 1) + 1 + x]
                let a = x >= inChannels ? Int(pixels[y * stride + x - inChannels]) : 0
                let up = y > 0 ? Int(pixels[(y - 1) * stride + x]) : 0
                let c = x >= inChannels && y > 0 ? Int(pixels[(y - 1) * stride + x - inChannels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = up
                case 3: predictor = (a + up) / 2
                case 4:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
                default: throw DataError("\(path): corrupt PNG: row \(y) has filter type \(filter)")
                }
                pixels[y * stride + x] = UInt8(truncatingIfNeeded: Int(v) + predictor)
            }
        }
        let channels = inChannels >= 3 ? 3 : 1
        if channels == inChannels { return Image8(width: width, height: height, channels: channels, pixels: pixels) }
        var out = [UInt8](); out.reserveCapacity(width * height * channels)
        for p in 0..<(width * height) { out += pixels[(p * inChannels)..<(p * inChannels + channels)] }
        return Image8(width: width, height: height, channels: channels, pixels: out)
    }

    static func encodePNG(_ image: Image8) -> [UInt8] {
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let tb = Array(type.utf8) + body
            let crc = tb.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) }
            return be32(body.count) + tb + be32(Int(crc))
        }
        let stride = image.width * image.channels
        var raw = [UInt8](); raw.reserveCapacity((stride + 1) * image.height)
        for y in 0..<image.height { raw.append(0); raw += image.pixels[(y * stride)..<((y + 1) * stride)] }
        var compressedLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        _ = compressed.withUnsafeMutableBufferPointer { dst in
            raw.withUnsafeBufferPointer { compress(dst.baseAddress!, &compressedLength, $0.baseAddress, uLong($0.count)) }
        }
        let ihdr = be32(image.width) + be32(image.height) + [8, image.channels == 1 ? 0 : 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr)
            + chunk("IDAT", Array(compressed[0..<Int(compressedLength)])) + chunk("IEND", [])
    }
}
