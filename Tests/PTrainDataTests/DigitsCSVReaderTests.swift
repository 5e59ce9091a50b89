import Foundation
import PTrainData
import Testing

@Suite("DigitsCSVReader: scikit-learn digits.csv(.gz), 64 pixels 0..16 + label")
struct DigitsCSVReaderTests {
    /// 10 rows: row i has every pixel i and label i.
    let tenRows = (0 ..< 10).map { digitsLine(pixel: $0, label: $0) }.joined()

    @Test func splitIsUnshuffledEightyTwenty() {
        #expect(DigitsCSVReader.rows(for: .train, total: 1797) == 0 ..< 1437)
        #expect(DigitsCSVReader.rows(for: .test, total: 1797) == 1437 ..< 1797)
        #expect(DigitsCSVReader.rows(for: .train, total: 10) == 0 ..< 8)
        #expect(DigitsCSVReader.rows(for: .test, total: 10) == 8 ..< 10)
        #expect(DigitsCSVReader.rows(for: .test, total: 11) == 8 ..< 11)  // ceil(11 / 5) = 3
        #expect(DigitsCSVReader.rows(for: .train, total: 2) == 0 ..< 1)
    }

    @Test(arguments: [false, true])
    func readsBothSplits(gzip: Bool) throws {
        try withTemporaryDirectory { dir in
            let bytes = Array(tenRows.utf8)
            let url = try write(gzip ? try gzipped(bytes) : bytes, "digits.csv", in: dir)
            let train = try DigitsCSVReader.read(url, split: .train, name: "digits/train")
            let test = try DigitsCSVReader.read(url, split: .test, name: "digits/test")
            #expect(shape(train) == [8, 1, 8, 8])
            #expect(train.labels == [0, 1, 2, 3, 4, 5, 6, 7])
            #expect(test.labels == [8, 9])
            #expect(Set(test.image(1)) == [9])
            #expect(train.maxPixelValue == 16 && test.maxPixelValue == 16)
            #expect(test.name == "digits/test")
        }
    }

    @Test func toleratesCRLFAndAMissingFinalNewline() throws {
        try withTemporaryDirectory { dir in
            let text = digitsLine(pixel: 16, label: 1).replacingOccurrences(of: "\n", with: "\r\n")
                + String(digitsLine(pixel: 0, label: 2).dropLast())
            let all = try DigitsCSVReader.readAll(try write(Array(text.utf8), "d.csv", in: dir), name: "d")
            #expect(all.labels == [1, 2])
            #expect(all.pixels == [UInt8](repeating: 16, count: 64) + [UInt8](repeating: 0, count: 64))
        }
    }

    @Test func wrongColumnCountGivesTheLine() throws {
        try withTemporaryDirectory { dir in
            let short = digitsLine(pixel: 1, label: 1) + "1,2,3\n"
            let url = try write(Array(short.utf8), "d.csv", in: dir)
            #expect(throws: DataError("\(url.path): line 2: expected 65 comma-separated integers (64 pixels 0..16, then the label 0..9), found 3 fields")) {
                try DigitsCSVReader.readAll(url, name: "d")
            }
            let extra = digitsLine(pixel: 1, label: 1).dropLast() + ",0\n"
            let gz = try write(try gzipped(Array(extra.utf8)), "d.csv.gz", in: dir)
            #expect(throws: DataError("\(gz.path): line 1: expected 65 comma-separated integers (64 pixels 0..16, then the label 0..9), found 66 fields")) {
                try DigitsCSVReader.readAll(gz, name: "d")
            }
            let blank = digitsLine(pixel: 1, label: 1) + "\n" + digitsLine(pixel: 1, label: 1)
            let blankURL = try write(Array(blank.utf8), "b.csv", in: dir)
            #expect(throws: DataError("\(blankURL.path): line 2: expected 65 comma-separated integers (64 pixels 0..16, then the label 0..9), found an empty line")) {
                try DigitsCSVReader.readAll(blankURL, name: "d")
            }
        }
    }

    @Test func valuesOutOfRangeGiveLineAndColumn() throws {
        try withTemporaryDirectory { dir in
            var fields = Array(repeating: "0", count: 64) + ["3"]
            fields[4] = "17"
            let pixel = try write(Array((digitsLine(pixel: 0, label: 0) + digitsLine(pixel: 2, label: 5) + fields.joined(separator: ",") + "\n").utf8), "p.csv", in: dir)
            #expect(throws: DataError("\(pixel.path): line 3, column 5: pixel value 17 is out of range, expected 0..16")) {
                try DigitsCSVReader.readAll(pixel, name: "d")
            }
            let label = try write(Array(digitsLine(pixel: 3, label: 10).utf8), "l.csv", in: dir)
            #expect(throws: DataError("\(label.path): line 1, column 65: label 10 is out of range, expected 0..9")) {
                try DigitsCSVReader.readAll(label, name: "d")
            }
            fields[4] = "1.5"
            let decimal = try write(Array((fields.joined(separator: ",") + "\n").utf8), "f.csv", in: dir)
            #expect(throws: DataError("\(decimal.path): line 1, column 5: expected an integer 0..16, found \"1.5\"")) {
                try DigitsCSVReader.readAll(decimal, name: "d")
            }
            fields[4] = "3"
            fields[64] = "-1"
            let negative = try write(Array((fields.joined(separator: ",") + "\n").utf8), "n.csv", in: dir)
            #expect(throws: DataError("\(negative.path): line 1, column 65: expected an integer 0..9, found \"-1\"")) {
                try DigitsCSVReader.readAll(negative, name: "d")
            }
            fields[64] = "99999999999999999999"
            let huge = try write(Array((fields.joined(separator: ",") + "\n").utf8), "h.csv", in: dir)
            #expect(throws: DataError("\(huge.path): line 1, column 65: expected an integer 0..9, found \"99999999999999999999\"")) {
                try DigitsCSVReader.readAll(huge, name: "d")
            }
        }
    }

    @Test func emptyAndTooSmallFiles() throws {
        try withTemporaryDirectory { dir in
            let empty = try write(try gzipped([]), "e.csv.gz", in: dir)
            #expect(throws: DataError("\(empty.path): expected at least one row of 65 integers, found an empty file")) {
                try DigitsCSVReader.readAll(empty, name: "d")
            }
            let one = try write(Array(digitsLine(pixel: 1, label: 1).utf8), "one.csv", in: dir)
            #expect(throws: DataError("\(one.path): expected at least 2 rows to split into train and test, found 1")) {
                try DigitsCSVReader.read(one, split: .train, name: "d")
            }
        }
    }
}
