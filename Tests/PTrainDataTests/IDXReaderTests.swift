import Foundation
import PTrainData
import Testing

@Suite("IDXReader: MNIST-style idx3 images and idx1 labels")
struct IDXReaderTests {
    /// 3 images of 2×3 (pixels 0...17) with labels 7, 0, 9.
    let images = idxImages(count: 3, rows: 2, columns: 3)
    let labels = idxLabels([7, 0, 9])

    @Test(arguments: [false, true])
    func readsAPair(gzip: Bool) throws {
        try withTemporaryDirectory { dir in
            let imagesURL = try write(gzip ? try gzipped(images) : images, "img", in: dir)
            let labelsURL = try write(gzip ? try gzipped(labels) : labels, "lbl", in: dir)
            let set = try IDXReader.read(images: imagesURL, labels: labelsURL, name: "toy/train", classes: 10)
            #expect(set.name == "toy/train")
            #expect(shape(set) == [3, 1, 2, 3])
            #expect(set.pixels == (0 ..< 18).map { UInt8($0) })
            #expect(Array(set.image(1)) == [6, 7, 8, 9, 10, 11])
            #expect(set.labels == [7, 0, 9])
            #expect(set.maxPixelValue == 255)
            #expect(set.classes == 10)
        }
    }

    @Test func wrongImagesMagicNamesBothMagics() throws {
        try withTemporaryDirectory { dir in
            let plain = try write(labels, "train-images-idx3-ubyte", in: dir)
            #expect(throws: DataError("\(plain.path): byte offset 0: expected IDX magic 0x00000803 (unsigned bytes, 3 dimensions), found 0x00000801 (unsigned bytes, 1 dimension)")) {
                try IDXReader.readImages(plain)
            }
            let gz = try write(try gzipped(labels + [0, 0, 0, 0, 0, 0, 0, 0]), "train-images-idx3-ubyte.gz", in: dir)
            #expect(throws: DataError("\(gz.path): offset 0 in decompressed stream: expected IDX magic 0x00000803 (unsigned bytes, 3 dimensions), found 0x00000801 (unsigned bytes, 1 dimension)")) {
                try IDXReader.readImages(gz)
            }
        }
    }

    @Test func wrongLabelsMagicAndNonIDXFiles() throws {
        try withTemporaryDirectory { dir in
            let url = try write(images, "labels", in: dir)
            #expect(throws: DataError("\(url.path): byte offset 0: expected IDX magic 0x00000801 (unsigned bytes, 1 dimension), found 0x00000803 (unsigned bytes, 3 dimensions)")) {
                try IDXReader.readLabels(url, classes: 10)
            }
            let png = try write([0x89, 0x50, 0x4e, 0x47] + [UInt8](repeating: 0, count: 20), "png", in: dir)
            #expect(throws: DataError("\(png.path): byte offset 0: expected IDX magic 0x00000803 (unsigned bytes, 3 dimensions), found 0x89504e47 (not an IDX file)")) {
                try IDXReader.readImages(png)
            }
            let floats = try write(idxImages(count: 1, rows: 1, columns: 1, magic: 0x0000_0D03), "floats", in: dir)
            #expect(throws: DataError("\(floats.path): byte offset 0: expected IDX magic 0x00000803 (unsigned bytes, 3 dimensions), found 0x00000d03 (float32, 3 dimensions)")) {
                try IDXReader.readImages(floats)
            }
        }
    }

    @Test func shortHeaders() throws {
        try withTemporaryDirectory { dir in
            let images = try write(Array(self.images.prefix(10)), "img", in: dir)
            #expect(throws: DataError("\(images.path): expected an IDX header of 16 bytes (magic, count, rows, columns), found only 10 bytes")) {
                try IDXReader.readImages(images)
            }
            let labels = try write(try gzipped([0, 0, 8]), "lbl.gz", in: dir)
            #expect(throws: DataError("\(labels.path): expected an IDX header of 8 bytes (magic, count), found only 3 bytes in decompressed stream")) {
                try IDXReader.readLabels(labels, classes: 10)
            }
            let empty = try write([], "empty", in: dir)
            #expect(throws: DataError("\(empty.path): expected an IDX header of 16 bytes (magic, count, rows, columns), found only 0 bytes")) {
                try IDXReader.readImages(empty)
            }
        }
    }

    @Test func truncatedFiles() throws {
        try withTemporaryDirectory { dir in
            let images = try write(Array(self.images.dropLast()), "img", in: dir)
            #expect(throws: DataError("\(images.path): truncated: expected 34 bytes (16-byte header + 3 images of 2×3), found 33 bytes")) {
                try IDXReader.readImages(images)
            }
            let gzImages = try write(try gzipped(Array(self.images.dropLast(7))), "img.gz", in: dir)
            #expect(throws: DataError("\(gzImages.path): truncated: expected 34 bytes (16-byte header + 3 images of 2×3), found 27 bytes in decompressed stream")) {
                try IDXReader.readImages(gzImages)
            }
            let labels = try write(idxLabels([1, 2], count: 3), "lbl", in: dir)
            #expect(throws: DataError("\(labels.path): truncated: expected 11 bytes (8-byte header + 3 labels), found 10 bytes")) {
                try IDXReader.readLabels(labels, classes: 10)
            }
        }
    }

    @Test func trailingGarbage() throws {
        try withTemporaryDirectory { dir in
            let images = try write(self.images + [0xAA, 0xBB], "img", in: dir)
            #expect(throws: DataError("\(images.path): trailing garbage: expected 34 bytes (16-byte header + 3 images of 2×3), found 36 bytes, 2 extra from byte offset 34")) {
                try IDXReader.readImages(images)
            }
            let labels = try write(try gzipped(self.labels + [1]), "lbl.gz", in: dir)
            #expect(throws: DataError("\(labels.path): trailing garbage: expected 11 bytes (8-byte header + 3 labels), found 12 bytes in decompressed stream, 1 extra from offset 11 in decompressed stream")) {
                try IDXReader.readLabels(labels, classes: 10)
            }
        }
    }

    @Test func labelOutOfRangeGivesItsOffset() throws {
        try withTemporaryDirectory { dir in
            let url = try write(idxLabels([3, 9, 10, 4]), "lbl", in: dir)
            #expect(throws: DataError("\(url.path): byte offset 10: label 10 of item 2 is out of range, expected 0..9")) {
                try IDXReader.readLabels(url, classes: 10)
            }
            let gz = try write(try gzipped(idxLabels([0, 255])), "lbl.gz", in: dir)
            #expect(throws: DataError("\(gz.path): offset 9 in decompressed stream: label 255 of item 1 is out of range, expected 0..9")) {
                try IDXReader.readLabels(gz, classes: 10)
            }
            // The same byte is fine when there are more classes.
            #expect(try IDXReader.readLabels(url, classes: 11) == [3, 9, 10, 4])
        }
    }

    @Test func countMismatchBetweenTheTwoFiles() throws {
        try withTemporaryDirectory { dir in
            let imagesURL = try write(images, "train-images-idx3-ubyte", in: dir)
            let labelsURL = try write(idxLabels([1, 2]), "train-labels-idx1-ubyte", in: dir)
            #expect(throws: DataError("toy/train: image/label count mismatch: \(imagesURL.path) has 3 images but \(labelsURL.path) has 2 labels")) {
                try IDXReader.read(images: imagesURL, labels: labelsURL, name: "toy/train", classes: 10)
            }
        }
    }

    @Test func zeroAndImplausibleDimensions() throws {
        try withTemporaryDirectory { dir in
            let noImages = try write(idxImages(count: 0, rows: 28, columns: 28), "none", in: dir)
            #expect(throws: DataError("\(noImages.path): byte offset 4: expected an image count of at least 1, found 0")) {
                try IDXReader.readImages(noImages)
            }
            let flat = try write(idxImages(count: 2, rows: 0, columns: 28), "flat", in: dir)
            #expect(throws: DataError("\(flat.path): byte offset 8: expected image rows and columns of at least 1, found 0×28")) {
                try IDXReader.readImages(flat)
            }
            let noLabels = try write(idxLabels([]), "nolabels", in: dir)
            #expect(throws: DataError("\(noLabels.path): byte offset 4: expected a label count of at least 1, found 0")) {
                try IDXReader.readLabels(noLabels, classes: 10)
            }
            // 2^32-1 in every dimension: the size overflows Int; no trap, no allocation.
            let huge = try write(idxImages(count: .max, rows: .max, columns: .max, pixels: [1, 2, 3]), "huge", in: dir)
            #expect(throws: DataError("\(huge.path): expected 16-byte header + 4294967295 images of 4294967295×4294967295 (more than fits in memory), found 19 bytes: header dimensions are implausible")) {
                try IDXReader.readImages(huge)
            }
            // Large but representable: plainly truncated.
            let big = try write(idxImages(count: 60000, rows: 65536, columns: 65536, pixels: []), "big", in: dir)
            #expect(throws: DataError("\(big.path): truncated: expected 257698037760016 bytes (16-byte header + 60000 images of 65536×65536), found 16 bytes")) {
                try IDXReader.readImages(big)
            }
        }
    }

    @Test func describesMagicNumbers() {
        #expect(IDXReader.describe(magic: 0x0000_0803) == "unsigned bytes, 3 dimensions")
        #expect(IDXReader.describe(magic: 0x0000_0801) == "unsigned bytes, 1 dimension")
        #expect(IDXReader.describe(magic: 0x0000_0E02) == "float64, 2 dimensions")
        #expect(IDXReader.describe(magic: 0x0000_0703) == "not an IDX file")
        #expect(IDXReader.describe(magic: 0x1f8b_0808) == "not an IDX file")
    }
}
