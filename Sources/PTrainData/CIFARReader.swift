import Foundation
import PTrain

/// Reads the binary versions of CIFAR-10 (`cifar-10-batches-bin`) and
/// CIFAR-100 (`cifar-100-binary`).
///
/// Each file is a sequence of records: the label byte(s), then 1,024 red,
/// 1,024 green and 1,024 blue bytes, each channel a 32×32 row-major image.
/// So a record's pixels are already `[3, 32, 32]` and the set is
/// `[count, 3, 32, 32]`. CIFAR-10 records have one label byte (0...9);
/// CIFAR-100 records two, the coarse (0...19) then the fine (0...99) label.
/// Any positive whole number of records is accepted. Files may be raw or gzip.
public struct CIFARReader: Sendable {
    public static let channels = 3, side = 32
    /// Pixel bytes of one image: 3 × 32 × 32.
    public static let imageBytes = channels * side * side
    /// Label bytes before each image, which of them is the label, and its bound.
    public let labelBytes: Int, labelIndex: Int, classes: Int
    /// Label bytes + one image.
    public var recordBytes: Int { labelBytes + Self.imageBytes }

    public static let cifar10 = CIFARReader(labelBytes: 1, labelIndex: 0, classes: 10)
    public static func cifar100(_ labels: DataConfig.LabelSet) -> CIFARReader {
        labels == .fine ? CIFARReader(labelBytes: 2, labelIndex: 1, classes: 100) : CIFARReader(labelBytes: 2, labelIndex: 0, classes: 20)
    }

    /// The official CIFAR-10 batch file names (without `.gz`) of a split, in order.
    public static func batchFileNames(for split: DatasetSplit) -> [String] {
        switch split {
        case .train: (1...5).map { "data_batch_\($0).bin" }
        case .test: ["test_batch.bin"]
        }
    }

    /// The CIFAR-10 class names in label order, from `batches.meta.txt` in
    /// `directory` (one per line, blank lines ignored): exactly 10, each
    /// usable as a folder name.
    public static func classNames(in directory: URL) throws -> [String] {
        let path = directory.appendingPathComponent("batches.meta.txt").path
        let data: Data
        do { data = try RegularFile.read(path) } catch let e as RegularFile.ReadError { throw DataError(e.description) }
        let names = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == cifar10.classes else {
            throw DataError("\(path): expected \(cifar10.classes) class names (one per line), found \(names.count)")
        }
        if let bad = names.first(where: { $0.contains("/") || $0 == "." || $0 == ".." }) {
            throw DataError("\(path): class name '\(bad)' cannot be a folder name")
        }
        return names
    }

    /// Reads the batch files in order into one set.
    public func read(batches: [URL], name: String) throws -> ImageSet {
        let imageBytes = Self.imageBytes
        var pixels: [UInt8] = []
        var labels: [UInt8] = []
        pixels.reserveCapacity(batches.count * 10_000 * imageBytes)
        labels.reserveCapacity(batches.count * 10_000)
        for url in batches {
            let file = try GzipFile.read(url)
            let bytes = file.bytes
            guard !bytes.isEmpty else {
                throw file.error("expected at least one \(recordBytes)-byte record (\(labelBytes) label byte\(labelBytes == 1 ? "" : "s") + \(imageBytes) pixel bytes), found 0 bytes")
            }
            guard bytes.count % recordBytes == 0 else {
                throw file.error("expected a whole number of \(recordBytes)-byte records (\(labelBytes) label byte\(labelBytes == 1 ? "" : "s") + \(imageBytes) pixel bytes), found \(file.size) = \(bytes.count / recordBytes) records + \(bytes.count % recordBytes) bytes")
            }
            let records = bytes.count / recordBytes
            for record in 0 ..< records {
                let start = record * recordBytes
                let label = bytes[start + labelIndex]
                guard label < classes else {
                    throw file.error(at: start + labelIndex, "record \(record) has label \(label), expected 0..\(classes - 1)")
                }
                labels.append(label)
                pixels.append(contentsOf: bytes[start + labelBytes ..< start + recordBytes])
            }
        }
        return ImageSet(name: name, count: labels.count, channels: Self.channels, height: Self.side, width: Self.side,
                            pixels: pixels, labels: labels, maxPixelValue: 255, classes: classes)
    }
}
