import CZlib
import Foundation
import PTrainData
import Testing

// Helpers shared by the tests: temporary directories, synthetic IDX / CIFAR /
// CSV files, and gzip through zlib. Nothing here is part of PTrainData.

/// Runs `body` with a fresh empty directory that is removed afterwards.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("ptrain-data-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// Writes `bytes` to `directory/name` and returns the file's URL.
@discardableResult
func write(_ bytes: [UInt8], _ name: String, in directory: URL) throws -> URL {
    let url = directory.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

/// gzip (real deflate, level 6) of `bytes`, produced by zlib's gzwrite.
func gzipped(_ bytes: [UInt8]) throws -> [UInt8] {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("ptrain-gz-\(UUID().uuidString)").path
    defer { unlink(path) }
    guard let gz = gzopen(path, "wb6") else { throw DataError("gzopen failed for \(path)") }
    if !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { gzwrite(gz, $0.baseAddress, UInt32($0.count)) }
        guard written == Int32(bytes.count) else { throw DataError("gzwrite wrote \(written)") }
    }
    guard gzclose(gz) == Z_OK else { throw DataError("gzclose failed") }
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
}

/// An idx3 file: header (magic, count, rows, columns) + the pixels given, or
/// `count × rows × columns` bytes counting up from 0 (mod 256).
func idxImages(count: UInt32, rows: UInt32, columns: UInt32, magic: UInt32 = 0x0000_0803,
               pixels: [UInt8]? = nil) -> [UInt8] {
    let body = pixels ?? (0 ..< Int(count * rows * columns)).map { UInt8($0 % 256) }
    return bigEndian(magic) + bigEndian(count) + bigEndian(rows) + bigEndian(columns) + body
}

/// An idx1 file: header (magic, count) + the labels; `count` defaults to `labels.count`.
func idxLabels(_ labels: [UInt8], magic: UInt32 = 0x0000_0801, count: UInt32? = nil) -> [UInt8] {
    bigEndian(magic) + bigEndian(count ?? UInt32(labels.count)) + labels
}

/// CIFAR-10 binary records: for each label one 3073-byte record whose pixel
/// bytes are all `label &+ index`.
func cifarRecords(_ labels: [UInt8], firstIndex: Int = 0) -> [UInt8] {
    var bytes: [UInt8] = []
    for (i, label) in labels.enumerated() {
        bytes.append(label)
        bytes += [UInt8](repeating: label &+ UInt8((firstIndex + i) % 256), count: 3072)
    }
    return bytes
}

/// One digits CSV line: 64 pixel values (`pixel` for all) and the label.
func digitsLine(pixel: Int, label: Int) -> String {
    (Array(repeating: String(pixel), count: 64) + [String(label)]).joined(separator: ",") + "\n"
}

/// The environment variable CI sets to the shared data folder.
let ptrainData: String? = {
    guard let value = ProcessInfo.processInfo.environment["PTRAIN_DATA"], !value.isEmpty else { return nil }
    return value
}()

/// `[count, channels, height, width]`, typed so `==` against a literal is not ambiguous.
func shape(_ set: ImageSet) -> [Int] {
    [set.count, set.channels, set.height, set.width]
}
