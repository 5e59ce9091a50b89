import Foundation
import PTrain

/// TensorBoard scalar event files (`--tensorboard`), written without
/// TensorFlow: a TFRecord stream of `Event` protocol buffers, encoded by hand.
///
/// Record framing: `uint64 length` (little endian), `uint32 masked_crc32c(length)`,
/// `data`, `uint32 masked_crc32c(data)`. Event fields used: 1 `wall_time`
/// (double), 2 `step` (int64), 3 `file_version` (string), 5 `summary`
/// (Summary { repeated Value value = 1 { string tag = 1; float simple_value = 2 } }).
/// The first event carries `file_version: "brain.Event:2"`.
public final class TensorBoardWriter {
    private let handle: FileHandle
    public let url: URL

    /// Opens a new event file in `directory` (created if needed).
    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let host = ProcessInfo.processInfo.hostName
        url = directory.appendingPathComponent("events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(getpid())")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)  // a failure surfaces as FileHandle's error
        handle = try FileHandle(forWritingTo: url)
        var event = ProtoWriter()
        event.double(1, Date().timeIntervalSince1970)
        event.string(3, "brain.Event:2")
        write(record: event.bytes)
    }

    deinit { try? handle.close() }

    /// Appends one event holding `scalars` (tag -> value) at `step`.
    public func scalars(_ scalars: [(String, Double)], step: Int) {
        var summary = ProtoWriter()
        for (tag, value) in scalars {
            var v = ProtoWriter()
            v.string(1, tag)
            v.float(2, Float(value))
            summary.message(1, v.bytes)
        }
        var event = ProtoWriter()
        event.double(1, Date().timeIntervalSince1970)
        event.varint(2, UInt64(bitPattern: Int64(step)))
        event.message(5, summary.bytes)
        write(record: event.bytes)
    }

    private func write(record data: [UInt8]) {
        var out: [UInt8] = []
        var length = UInt64(data.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Array($0) }
        out += lengthBytes
        out += Self.le32(CRC32C.masked(lengthBytes))
        out += data
        out += Self.le32(CRC32C.masked(data))
        handle.write(Data(out))
    }

    static func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }
}

/// Minimal protocol-buffer encoder: the four wire types the Event needs.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    mutating func rawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func key(_ field: Int, _ wireType: Int) { rawVarint(UInt64(field << 3 | wireType)) }
    mutating func varint(_ field: Int, _ value: UInt64) { key(field, 0); rawVarint(value) }
    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }
    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }
    mutating func message(_ field: Int, _ payload: [UInt8]) { key(field, 2); rawVarint(UInt64(payload.count)); bytes += payload }
    mutating func string(_ field: Int, _ s: String) { message(field, Array(s.utf8)) }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masking: rotate right by 15 and add a constant.
    static func masked(_ bytes: [UInt8]) -> UInt32 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
