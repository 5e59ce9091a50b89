import Foundation

/// Reads scikit-learn's digits (`sklearn/datasets/data/digits.csv.gz`, the file
/// behind `load_digits()`), raw or gzip.
///
/// Format (checked against the real file): no header, one image per line,
/// 65 comma-separated decimal integers: 64 pixel values 0...16 (an 8×8 image,
/// row-major; each value counts set pixels in a 4×4 block of a 32×32 bitmap),
/// then the label 0...9. Lines end in `\n` (a `\r` before it is tolerated).
///
/// The file is one set of 1,797 rows; ptrain splits it without shuffling, like
/// scikit-learn's `train_test_split(test_size: 0.2, shuffle: False)`: the test
/// set is the last `ceil(rows / 5)` rows and the train set the rows before, so
/// the real file gives 1,437 train (rows 1...1437) and 360 test (rows 1438...1797).
public enum DigitsCSVReader {
    /// 64 pixel columns + 1 label column.
    public static let columns = 65
    public static let side = 8, classes = 10
    public static let maxPixelValue: UInt8 = 16

    /// Row indices (0-based) of `split` in a file of `total` rows: an unshuffled 80/20 split.
    public static func rows(for split: DatasetSplit, total: Int) -> Range<Int> {
        let testCount = (total + 4) / 5  // ceil(total / 5)
        switch split {
        case .train: return 0 ..< total - testCount
        case .test: return total - testCount ..< total
        }
    }

    /// Reads the file and returns the rows of `split` (see the type's comment).
    public static func read(_ url: URL, split: DatasetSplit, name: String) throws -> ImageSet {
        let all = try readAll(url, name: name)
        guard all.count >= 2 else {
            throw DataError("\(url.path): expected at least 2 rows to split into train and test, found \(all.count)")
        }
        let range = rows(for: split, total: all.count)
        let perImage = all.pixelsPerImage
        return ImageSet(name: name, count: range.count, channels: 1, height: side, width: side,
                            pixels: Array(all.pixels[range.lowerBound * perImage ..< range.upperBound * perImage]),
                            labels: Array(all.labels[range]), maxPixelValue: Float(maxPixelValue), classes: classes)
    }

    /// Reads every row of the file, in order.
    public static func readAll(_ url: URL, name: String) throws -> ImageSet {
        let file = try GzipFile.read(url)
        let bytes = file.bytes
        var pixels: [UInt8] = []
        var labels: [UInt8] = []
        pixels.reserveCapacity(bytes.count / 2)

        var lineStart = 0
        var lineNumber = 0
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let next = lineEnd + 1
            if lineEnd > lineStart, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let fields = bytes[lineStart ..< lineEnd].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            let here = "line \(lineNumber)"
            guard fields.count == columns else {
                let found = lineEnd == lineStart ? "an empty line" : "\(fields.count) field\(fields.count == 1 ? "" : "s")"
                throw file.error("\(here): expected \(columns) comma-separated integers (64 pixels 0..16, then the label 0..9), found \(found)")
            }
            for (column, field) in fields.enumerated() {
                let isLabel = column == columns - 1
                let limit = isLabel ? classes - 1 : Int(maxPixelValue)
                guard let value = smallInteger(field) else {
                    let text = String(decoding: field.prefix(20), as: UTF8.self)
                    throw file.error("\(here), column \(column + 1): expected an integer 0..\(limit), found \"\(text)\"")
                }
                guard value <= limit else {
                    throw file.error("\(here), column \(column + 1): \(isLabel ? "label" : "pixel value") \(value) is out of range, expected 0..\(limit)")
                }
                if isLabel { labels.append(UInt8(value)) } else { pixels.append(UInt8(value)) }
            }
            lineStart = next
        }
        guard !labels.isEmpty else {
            throw file.error("expected at least one row of \(columns) integers, found an empty file")
        }
        return ImageSet(name: name, count: labels.count, channels: 1, height: side, width: side,
                            pixels: pixels, labels: labels, maxPixelValue: Float(maxPixelValue), classes: classes)
    }

    /// A run of 1...6 decimal digits as an Int, or nil for anything else.
    private static func smallInteger(_ field: ArraySlice<UInt8>) -> Int? {
        guard !field.isEmpty, field.count <= 6 else { return nil }
        var value = 0
        for byte in field {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
