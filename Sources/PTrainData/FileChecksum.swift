import CZlib
import Foundation

/// A file's size and CRC-32 (zlib's, the IEEE 802.3 polynomial: the value
/// `crc32`/`gzip -l` tools print), to record exactly which data a run used.
public struct FileChecksum: Codable, Sendable, Equatable {
    public let path: String
    public let bytes: Int
    /// CRC-32 as 8 lowercase hex digits.
    public let crc32: String

    /// Reads `url` in 1 MiB chunks (zlib's crc32 runs at GB/s, so even
    /// CIFAR-10's 180 MB costs a fraction of a second).
    public init(_ url: URL) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw DataError("\(url.path): cannot open to checksum (\(String(cString: strerror(errno))))")
        }
        defer { try? handle.close() }
        var crc = CZlib.crc32(0, nil, 0)
        var total = 0
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw DataError("\(url.path): read failed at byte \(total) (\(error.localizedDescription))")
            }
            if chunk.isEmpty { break }
            crc = chunk.withUnsafeBytes { CZlib.crc32(crc, $0.bindMemory(to: Bytef.self).baseAddress, uInt($0.count)) }
            total += chunk.count
        }
        path = url.path
        bytes = total
        crc32 = String(format: "%08x", UInt32(truncatingIfNeeded: crc))
    }
}
