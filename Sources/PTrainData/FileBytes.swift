/// The whole content of one dataset file, decompressed when the file was gzip.
///
/// Offsets are always into `bytes`, i.e. into the decompressed stream for a gzip
/// file; `at(_:)` and `size` word messages so the reader can tell which.
public struct FileBytes: Sendable {
    /// The file as named on disk (the `.gz` name for a gzip file).
    public let path: String
    /// The content: decompressed for gzip, as stored otherwise.
    public let bytes: [UInt8]
    /// True when the file began with the gzip magic `1f 8b`.
    public let isGzip: Bool

    public init(path: String, bytes: [UInt8], isGzip: Bool) {
        self.path = path
        self.bytes = bytes
        self.isGzip = isGzip
    }

    /// `"PATH: byte offset N"`, or `"PATH: offset N in decompressed stream"` for gzip.
    public func at(_ offset: Int) -> String {
        isGzip ? "\(path): offset \(offset) in decompressed stream" : "\(path): byte offset \(offset)"
    }

    /// `"N bytes"`, or `"N bytes in decompressed stream"` for gzip.
    public var size: String {
        isGzip ? "\(bytes.count) bytes in decompressed stream" : "\(bytes.count) bytes"
    }

    /// An error about the file as a whole: `"PATH: message"`.
    public func error(_ message: String) -> DataError {
        DataError("\(path): \(message)")
    }

    /// An error at one offset: `"PATH: byte offset N: message"`.
    public func error(at offset: Int, _ message: String) -> DataError {
        DataError("\(at(offset)): \(message)")
    }

    /// The big-endian 32-bit integer at `offset`; the caller has checked that
    /// `offset + 4 <= bytes.count`.
    public func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
