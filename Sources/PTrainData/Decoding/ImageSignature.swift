/// The image formats the decoder reads, recognised by the file's first bytes
/// (never by its extension: a PNG named .jpg is still a PNG).
enum ImageSignature {
    case jpeg, png

    /// JPEG: SOI marker then the next marker's 0xFF. PNG: its 8-byte signature.
    init?(_ bytes: UnsafeRawBufferPointer) {
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else {
            return nil
        }
    }

    /// The error for bytes that are neither: `PATH: not a JPEG or PNG image (first bytes 47 49 46 38)`.
    static func unrecognised(_ bytes: UnsafeRawBufferPointer, path: String) -> DataError {
        let hex = bytes.prefix(4).map { String($0, radix: 16, uppercase: true) }.map { $0.count == 1 ? "0" + $0 : $0 }
        return DataError("\(path): not a JPEG or PNG image (first bytes \(hex.joined(separator: " ")))")
    }
}
