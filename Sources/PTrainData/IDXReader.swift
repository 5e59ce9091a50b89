import Foundation

/// Reads MNIST-style IDX files: `idx3` unsigned-byte images and `idx1` labels.
///
/// Format (all integers big-endian):
/// - images: magic `0x00000803` (type 0x08 = unsigned byte, 3 dimensions), then
///   uint32 count, rows, columns, then `count × rows × columns` bytes, row-major.
/// - labels: magic `0x00000801` (unsigned byte, 1 dimension), uint32 count,
///   then `count` bytes.
/// Files may be raw or gzip (see `GzipFile`); offsets in messages are into the
/// decompressed data. A file must be exactly header + data: a short file is
/// truncated, a long one has trailing garbage, and both are errors.
public enum IDXReader {
    public static let imagesMagic: UInt32 = 0x0000_0803
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// The content of an idx3 image file.
    public struct Images: Sendable {
        public let count: Int, rows: Int, columns: Int
        /// `[count, rows, columns]`, row-major.
        public let pixels: [UInt8]
    }

    /// Reads an idx3 unsigned-byte image file.
    public static func readImages(_ url: URL) throws -> Images {
        let file = try GzipFile.read(url)
        try checkMagic(file, expected: imagesMagic, headerBytes: 16, header: "magic, count, rows, columns")
        let count = Int(file.bigEndianUInt32(at: 4))
        let rows = Int(file.bigEndianUInt32(at: 8))
        let columns = Int(file.bigEndianUInt32(at: 12))
        guard count > 0 else {
            throw file.error(at: 4, "expected an image count of at least 1, found 0")
        }
        guard rows > 0, columns > 0 else {
            throw file.error(at: 8, "expected image rows and columns of at least 1, found \(rows)×\(columns)")
        }
        // count, rows, columns < 2^32 each: the product fits in Int only sometimes.
        let (perImage, o1) = rows.multipliedReportingOverflow(by: columns)
        let (body, o2) = perImage.multipliedReportingOverflow(by: count)
        let (total, o3) = body.addingReportingOverflow(16)
        let what = "16-byte header + \(count) images of \(rows)×\(columns)"
        try checkSize(file, expected: (o1 || o2 || o3) ? nil : total, what: what)
        return Images(count: count, rows: rows, columns: columns, pixels: Array(file.bytes[16...]))
    }

    /// Reads an idx1 unsigned-byte label file whose labels must all be `< classes`.
    public static func readLabels(_ url: URL, classes: Int) throws -> [UInt8] {
        let file = try GzipFile.read(url)
        try checkMagic(file, expected: labelsMagic, headerBytes: 8, header: "magic, count")
        let count = Int(file.bigEndianUInt32(at: 4))
        guard count > 0 else {
            throw file.error(at: 4, "expected a label count of at least 1, found 0")
        }
        try checkSize(file, expected: 8 + count, what: "8-byte header + \(count) labels")
        let labels = Array(file.bytes[8...])
        if let bad = labels.firstIndex(where: { Int($0) >= classes }) {
            throw file.error(at: 8 + bad, "label \(labels[bad]) of item \(bad) is out of range, expected 0..\(classes - 1)")
        }
        return labels
    }

    /// Reads a matching pair of image and label files into one set.
    public static func read(images imagesURL: URL, labels labelsURL: URL, name: String, classes: Int) throws -> ImageSet {
        let images = try readImages(imagesURL)
        let labels = try readLabels(labelsURL, classes: classes)
        guard images.count == labels.count else {
            throw DataError("\(name): image/label count mismatch: \(imagesURL.path) has \(images.count) images but \(labelsURL.path) has \(labels.count) labels")
        }
        return ImageSet(name: name, count: images.count, channels: 1, height: images.rows, width: images.columns,
                            pixels: images.pixels, labels: labels, maxPixelValue: 255, classes: classes)
    }

    /// Words a magic number: `"unsigned bytes, 3 dimensions"`, or why it is not IDX.
    public static func describe(magic: UInt32) -> String {
        let types: [UInt32: String] = [0x08: "unsigned bytes", 0x09: "signed bytes", 0x0B: "int16",
                                       0x0C: "int32", 0x0D: "float32", 0x0E: "float64"]
        guard magic >> 16 == 0, let type = types[(magic >> 8) & 0xff] else { return "not an IDX file" }
        let dimensions = magic & 0xff
        return "\(type), \(dimensions) dimension\(dimensions == 1 ? "" : "s")"
    }

    private static func checkMagic(_ file: FileBytes, expected: UInt32, headerBytes: Int, header: String) throws {
        // The magic first: a file of the wrong kind says so even when it is short.
        if file.bytes.count >= 4 {
            let found = file.bigEndianUInt32(at: 0)
            guard found == expected else {
                throw file.error(at: 0, "expected IDX magic \(hex(expected)) (\(describe(magic: expected))), found \(hex(found)) (\(describe(magic: found)))")
            }
        }
        guard file.bytes.count >= headerBytes else {
            throw file.error("expected an IDX header of \(headerBytes) bytes (\(header)), found only \(file.size)")
        }
    }

    /// `expected == nil` means the header's size does not even fit in an Int.
    private static func checkSize(_ file: FileBytes, expected: Int?, what: String) throws {
        guard let expected else {
            throw file.error("expected \(what) (more than fits in memory), found \(file.size): header dimensions are implausible")
        }
        if file.bytes.count < expected {
            throw file.error("truncated: expected \(expected) bytes (\(what)), found \(file.size)")
        }
        if file.bytes.count > expected {
            throw file.error("trailing garbage: expected \(expected) bytes (\(what)), found \(file.size), \(file.bytes.count - expected) extra from \(file.isGzip ? "offset \(expected) in decompressed stream" : "byte offset \(expected)")")
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
