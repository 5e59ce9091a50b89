import Foundation
import PTrainData
import Testing

@Suite("DatasetLoader: official file names, raw or .gz, per kind and split")
struct DatasetLoaderTests {
    @Test(arguments: [DatasetKind.mnist, .fashionMNIST])
    func loadsIDXPairs(kind: DatasetKind) throws {
        try withTemporaryDirectory { dir in
            try write(try gzipped(idxImages(count: 4, rows: 28, columns: 28)), "train-images-idx3-ubyte.gz", in: dir)
            try write(idxLabels([1, 2, 3, 4]), "train-labels-idx1-ubyte", in: dir)
            try write(idxImages(count: 2, rows: 28, columns: 28), "t10k-images-idx3-ubyte", in: dir)
            try write(try gzipped(idxLabels([9, 8])), "t10k-labels-idx1-ubyte.gz", in: dir)
            let train = try DatasetLoader.load(kind, split: .train, directory: dir)
            let test = try DatasetLoader.load(kind, split: .test, directory: dir)
            #expect(train.name == "\(kind.rawValue)/train" && test.name == "\(kind.rawValue)/test")
            #expect(shape(train) == [4, 1, 28, 28])
            #expect(train.labels == [1, 2, 3, 4] && test.labels == [9, 8])
        }
    }

    @Test func rawFileIsPreferredOverGzip() throws {
        try withTemporaryDirectory { dir in
            try write(idxImages(count: 1, rows: 1, columns: 1, pixels: [11]), "t10k-images-idx3-ubyte", in: dir)
            try write(try gzipped(idxImages(count: 1, rows: 1, columns: 1, pixels: [22])), "t10k-images-idx3-ubyte.gz", in: dir)
            try write(idxLabels([5]), "t10k-labels-idx1-ubyte", in: dir)
            #expect(try DatasetLoader.load(.mnist, split: .test, directory: dir).pixels == [11])
        }
    }

    @Test func loadsDigitsAndCIFAR() throws {
        try withTemporaryDirectory { dir in
            let csv = (0 ..< 20).map { digitsLine(pixel: $0 % 17, label: $0 % 10) }.joined()
            try write(try gzipped(Array(csv.utf8)), "digits.csv.gz", in: dir)
            #expect(try DatasetLoader.load(.digits, split: .train, directory: dir).count == 16)
            #expect(try DatasetLoader.load(.digits, split: .test, directory: dir).labels == [6, 7, 8, 9])

            for i in 1 ... 5 {
                let records = cifarRecords([UInt8(i), UInt8(i + 1)])
                try write(i % 2 == 0 ? try gzipped(records) : records, "data_batch_\(i).bin\(i % 2 == 0 ? ".gz" : "")", in: dir)
            }
            try write(try gzipped(cifarRecords([0])), "test_batch.bin.gz", in: dir)
            let train = try DatasetLoader.load(.cifar10, split: .train, directory: dir)
            #expect(train.labels == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6])
            #expect(shape(train) == [10, 3, 32, 32])
            #expect(try DatasetLoader.load(.cifar10, split: .test, directory: dir).count == 1)
        }
    }

    @Test func missingFilesAreNamed() throws {
        try withTemporaryDirectory { dir in
            try write(idxImages(count: 1, rows: 1, columns: 1), "train-images-idx3-ubyte", in: dir)
            #expect(throws: DataError("\(dir.path): missing file train-labels-idx1-ubyte: neither \(dir.path)/train-labels-idx1-ubyte nor \(dir.path)/train-labels-idx1-ubyte.gz exists")) {
                try DatasetLoader.load(.mnist, split: .train, directory: dir)
            }
            for i in 1 ... 4 { try write(cifarRecords([0]), "data_batch_\(i).bin", in: dir) }
            #expect(throws: DataError("\(dir.path): missing file data_batch_5.bin: neither \(dir.path)/data_batch_5.bin nor \(dir.path)/data_batch_5.bin.gz exists")) {
                try DatasetLoader.load(.cifar10, split: .train, directory: dir)
            }
            #expect(throws: DataError("\(dir.path): missing file digits.csv: neither \(dir.path)/digits.csv nor \(dir.path)/digits.csv.gz exists")) {
                try DatasetLoader.load(.digits, split: .test, directory: dir)
            }
        }
    }

    @Test func countMismatchThroughTheLoader() throws {
        try withTemporaryDirectory { dir in
            try write(idxImages(count: 3, rows: 2, columns: 2), "t10k-images-idx3-ubyte", in: dir)
            try write(try gzipped(idxLabels([1, 2, 3, 4])), "t10k-labels-idx1-ubyte.gz", in: dir)
            #expect(throws: DataError("fashion-mnist/test: image/label count mismatch: \(dir.path)/t10k-images-idx3-ubyte has 3 images but \(dir.path)/t10k-labels-idx1-ubyte.gz has 4 labels")) {
                try DatasetLoader.load(.fashionMNIST, split: .test, directory: dir)
            }
        }
    }
}
