import Foundation
import PTrain

/// Reads the binary version of CIFAR-10 (`cifar-10-batches-bin`).
///
/// Each batch file is a sequence of 3,073-byte records: one label byte (0...9),
/// then 1,024 red, 1,024 green and 1,024 blue bytes, each channel a 32×32
/// row-major image. So a record's pixels are already `[3, 32, 32]` and the set
/// is `[count, 3, 32, 32]`. The official files hold 10,000 records each; any
/// positive whole number of records is accepted. Files may be raw or gzip.
public enum CIFAR10Reader {
    public static let channels = 3, side = 32, classes = 10
    /// Pixel bytes of one image: 3 × 32 × 32.
    public static let imageBytes = channels * side * side
    /// One label byte + one image.
    public static let recordBytes = 1 + imageBytes

    /// The official batch file names (without `.gz`) of a split, in order.
    public static func batchFileNames(for split: DatasetSplit) -> [String] {
        switch split {
        case .train: (1...5).map { "data_batch_\($0).bin" }
        case .test: ["test_batch.bin"]
        }
    }

    /// The class names in label order, from `batches.meta.txt` in `directory`
    /// (one per line, blank lines ignored): exactly 10, each usable as a
    /// folder name.
    public static func classNames(in directory: URL) throws -> [String] {
        let path = directory.appendingPathComponent("batches.meta.txt").path
        let data: Data
        do { data = try RegularFile.read(path) } catch let e as RegularFile.ReadError { throw DataError(e.description) }
        let names = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == classes else {
            throw DataError("\(path): expected \(classes) class names (one per line), found \(names.count)")
        }
        if let bad = names.first(where: { $0.contains("/") || $0 == "." || $0 == ".." }) {
            throw DataError("\(path): class name '\(bad)' cannot be a folder name")
        }
        return names
    }

    /// Reads the batch files in order into one set.
    public static func read(batches: [URL], name: String) throws -> ImageSet {
        var pixels: [UInt8] = []
        var labels: [UInt8] = []
        pixels.reserveCapacity(batches.count * 10_000 * imageBytes)
        labels.reserveCapacity(batches.count * 10_000)
        for url in batches {
            let file = try GzipFile.read(url)
            let bytes = file.bytes
            guard !bytes.isEmpty else {
                throw file.error("expected at least one \(recordBytes)-byte record (1 label byte + \(imageBytes) pixel bytes), found 0 bytes")
            }
            guard bytes.count % recordBytes == 0 else {
                throw file.error("expected a whole number of \(recordBytes)-byte records (1 label byte + \(imageBytes) pixel bytes), found \(file.size) = \(bytes.count / recordBytes) records + \(bytes.count % recordBytes) bytes")
            }
            let records = bytes.count / recordBytes
            for record in 0 ..< records {
                let start = record * recordBytes
                let label = bytes[start]
                guard label < classes else {
                    throw file.error(at: start, "record \(record) has label \(label), expected 0..\(classes - 1)")
                }
                labels.append(label)
                pixels.append(contentsOf: bytes[start + 1 ..< start + recordBytes])
            }
        }
        return ImageSet(name: name, count: labels.count, channels: channels, height: side, width: side,
                            pixels: pixels, labels: labels, maxPixelValue: 255, classes: classes)
    }
}
