import Foundation
import PTrainData
import Testing

@Suite("CIFAR10Reader: binary batches of 3073-byte records")
struct CIFAR10ReaderTests {
    @Test func fileNames() {
        #expect(CIFAR10Reader.batchFileNames(for: .train) == ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"])
        #expect(CIFAR10Reader.batchFileNames(for: .test) == ["test_batch.bin"])
        #expect(CIFAR10Reader.recordBytes == 3073)
    }

    @Test func readsBatchesInOrderRawAndGzip() throws {
        try withTemporaryDirectory { dir in
            let a = try write(cifarRecords([3, 8]), "a.bin", in: dir)
            let b = try write(try gzipped(cifarRecords([9, 0, 1], firstIndex: 2)), "b.bin.gz", in: dir)
            let set = try CIFAR10Reader.read(batches: [a, b], name: "cifar-10/train")
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
            let set = try CIFAR10Reader.read(batches: [try write(record, "r.bin", in: dir)], name: "t")
            #expect(set.pixels[0] == 10 && set.pixels[1023] == 10 && set.pixels[1024] == 20 && set.pixels[2048] == 30 && set.pixels[3071] == 30)
        }
    }

    @Test func recordSizeMustDivideTheFile() throws {
        try withTemporaryDirectory { dir in
            let plain = try write(cifarRecords([1, 2]) + [7, 7, 7], "data_batch_1.bin", in: dir)
            #expect(throws: DataError("\(plain.path): expected a whole number of 3073-byte records (1 label byte + 3072 pixel bytes), found 6149 bytes = 2 records + 3 bytes")) {
                try CIFAR10Reader.read(batches: [plain], name: "cifar-10/train")
            }
            let gz = try write(try gzipped(Array(cifarRecords([1]).dropLast())), "test_batch.bin.gz", in: dir)
            #expect(throws: DataError("\(gz.path): expected a whole number of 3073-byte records (1 label byte + 3072 pixel bytes), found 3072 bytes in decompressed stream = 0 records + 3072 bytes")) {
                try CIFAR10Reader.read(batches: [gz], name: "cifar-10/test")
            }
            let empty = try write([], "empty.bin", in: dir)
            #expect(throws: DataError("\(empty.path): expected at least one 3073-byte record (1 label byte + 3072 pixel bytes), found 0 bytes")) {
                try CIFAR10Reader.read(batches: [empty], name: "cifar-10/test")
            }
        }
    }

    @Test func labelAboveNineGivesRecordAndOffset() throws {
        try withTemporaryDirectory { dir in
            let plain = try write(cifarRecords([0, 1, 10]), "b.bin", in: dir)
            #expect(throws: DataError("\(plain.path): byte offset 6146: record 2 has label 10, expected 0..9")) {
                try CIFAR10Reader.read(batches: [plain], name: "cifar-10/train")
            }
            let gz = try write(try gzipped(cifarRecords([5, 200])), "b.bin.gz", in: dir)
            #expect(throws: DataError("\(gz.path): offset 3073 in decompressed stream: record 1 has label 200, expected 0..9")) {
                try CIFAR10Reader.read(batches: [gz], name: "cifar-10/train")
            }
        }
    }
}
