import Foundation
import PTrainData
import Testing

@Suite("CIFAR10Reader: binary batches of 3073-byte records")
struct CIFAR10ReaderTests {
    @Test func fileNames() {
        #expect(CIFARReader.batchFileNames(for: .train) == ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"])
        #expect(CIFARReader.batchFileNames(for: .test) == ["test_batch.bin"])
        #expect(CIFARReader.cifar10.recordBytes == 3073)
    }

    @Test func readsBatchesInOrderRawAndGzip() throws {
        try withTemporaryDirectory { dir in
            let a = try write(cifarRecords([3, 8]), "a.bin", in: dir)
            let b = try write(try gzipped(cifarRecords([9, 0, 1], firstIndex: 2)), "b.bin.gz", in: dir)
            let set = try CIFARReader.cifar10.read(batches: [a, b], name: "cifar-10/train")
            #expect(shape(set) == [5, 3, 32, 32])
            #expect(set.labels == [3, 8, 9, 0, 1])
            #expect(set.pixels.count == 5 * 3072)
            // Record i's pixels are all label + i: the label byte is not among them.
            for i in 0 ..< 5 {
                #expect(Set(set.image(i)) == [UInt8(set.labels[i]) &+ UInt8(i)])
            }
            #expect(set.maxPixelValue == 255 && set.classes == 10)
        }
    }

    /// Channel planes stay in file order: R plane, G plane, B plane = [3, 32, 32].
    @Test func keepsChannelPlanes() throws {
        try withTemporaryDirectory { dir in
            let record: [UInt8] = [4] + [UInt8](repeating: 10, count: 1024) + [UInt8](repeating: 20, count: 1024) + [UInt8](repeating: 30, count: 1024)
            let set = try CIFARReader.cifar10.read(batches: [try write(record, "r.bin", in: dir)], name: "t")
            #expect(set.pixels[0] == 10 && set.pixels[1023] == 10 && set.pixels[1024] == 20 && set.pixels[2048] == 30 && set.pixels[3071] == 30)
        }
    }

    @Test func recordSizeMustDivideTheFile() throws {
        try withTemporaryDirectory { dir in
            let plain = try write(cifarRecords([1, 2]) + [7, 7, 7], "data_batch_1.bin", in: dir)
            #expect(throws: DataError("\(plain.path): expected a whole number of 3073-byte records (1 label byte + 3072 pixel bytes), found 6149 bytes = 2 records + 3 bytes")) {
                try CIFARReader.cifar10.read(batches: [plain], name: "cifar-10/train")
            }
            let gz = try write(try gzipped(Array(cifarRecords([1]).dropLast())), "test_batch.bin.gz", in: dir)
            #expect(throws: DataError("\(gz.path): expected a whole number of 3073-byte records (1 label byte + 3072 pixel bytes), found 3072 bytes in decompressed stream = 0 records + 3072 bytes")) {
                try CIFARReader.cifar10.read(batches: [gz], name: "cifar-10/test")
            }
            let empty = try write([], "empty.bin", in: dir)
            #expect(throws: DataError("\(empty.path): expected at least one 3073-byte record (1 label byte + 3072 pixel bytes), found 0 bytes")) {
                try CIFARReader.cifar10.read(batches: [empty], name: "cifar-10/test")
            }
        }
    }

    @Test func labelAboveNineGivesRecordAndOffset() throws {
        try withTemporaryDirectory { dir in
            let plain = try write(cifarRecords([0, 1, 10]), "b.bin", in: dir)
            #expect(throws: DataError("\(plain.path): byte offset 6146: record 2 has label 10, expected 0..9")) {
                try CIFARReader.cifar10.read(batches: [plain], name: "cifar-10/train")
            }
            let gz = try write(try gzipped(cifarRecords([5, 200])), "b.bin.gz", in: dir)
            #expect(throws: DataError("\(gz.path): offset 3073 in decompressed stream: record 1 has label 200, expected 0..9")) {
                try CIFARReader.cifar10.read(batches: [gz], name: "cifar-10/train")
            }
        }
    }
}

@Suite("CIFAR-100: records of a coarse and a fine label byte, then the image")
struct CIFAR100ReaderTests {
    /// Records `(coarse, fine)`; image i's pixels are all `i`.
    private func records(_ labels: [(UInt8, UInt8)]) -> [UInt8] {
        labels.enumerated().flatMap { i, l in [l.0, l.1] + [UInt8](repeating: UInt8(i), count: 3072) }
    }

    @Test func fineAndCoarseLabels() throws {
        try withTemporaryDirectory { dir in
            let file = try write(records([(19, 99), (0, 5), (7, 42)]), "train.bin", in: dir)
            let fine = try CIFARReader.cifar100(.fine).read(batches: [file], name: "cifar-100/train")
            #expect(fine.labels == [99, 5, 42] && fine.classes == 100 && fine.count == 3)
            #expect(Set(fine.image(2)) == [2])
            let coarse = try CIFARReader.cifar100(.coarse).read(batches: [file], name: "cifar-100/train")
            #expect(coarse.labels == [19, 0, 7] && coarse.classes == 20)
            #expect(coarse.pixels == fine.pixels)
        }
    }

    @Test func labelOutOfRangeNamesTheByte() throws {
        try withTemporaryDirectory { dir in
            let file = try write(records([(1, 2), (20, 3)]), "train.bin", in: dir)
            #expect(throws: DataError("\(file.path): byte offset 3074: record 1 has label 20, expected 0..19")) {
                try CIFARReader.cifar100(.coarse).read(batches: [file], name: "t")
            }
            let bad = try write(records([(1, 100)]), "test.bin", in: dir)
            #expect(throws: DataError("\(bad.path): byte offset 1: record 0 has label 100, expected 0..99")) {
                try CIFARReader.cifar100(.fine).read(batches: [bad], name: "t")
            }
            let short = try write([UInt8](repeating: 0, count: 3075), "short.bin", in: dir)
            #expect(throws: DataError("\(short.path): expected a whole number of 3074-byte records (2 label bytes + 3072 pixel bytes), found 3075 bytes = 1 records + 1 bytes")) {
                try CIFARReader.cifar100(.fine).read(batches: [short], name: "t")
            }
        }
    }
}
