import Foundation
import PTrainData
import Testing

// Real-data checks on the files in $PTRAIN_DATA (CI: ../shared/data, see .ci/run).
// Expected counts, histograms and first labels are from each folder's README;
// pixel sums and single pixel values were computed independently with Python
// (gzip + plain byte indexing) from the same files.

/// Loads a split through the locator, as the trainer does, and reports the time.
private func loadTimed(_ kind: DatasetKind, _ split: DatasetSplit) throws -> (ImageSet, Duration) {
    let directory = try DatasetLocator.directory(for: kind, configuredPath: nil, environment: ProcessInfo.processInfo.environment)
    var set: ImageSet?
    let elapsed = try ContinuousClock().measure { set = try DatasetLoader.load(kind, split: split, directory: directory) }
    print("\(set!.name): \(set!.count) images [\(set!.channels), \(set!.height), \(set!.width)] loaded in \(elapsed.formatted(.units(allowed: [.milliseconds], fractionalPart: .show(length: 1))))")
    return (set!, elapsed)
}

private func pixelSum(_ set: ImageSet) -> Int {
    set.pixels.reduce(0) { $0 + Int($1) }
}

@Suite("Real datasets in $PTRAIN_DATA",
       .enabled(if: ptrainData != nil, "PTRAIN_DATA not set: real-data tests need the datasets, see README"))
struct RealDataTests {
    @Test func mnist() throws {
        let (train, elapsed) = try loadTimed(.mnist, .train)
        #expect(shape(train) == [60000, 1, 28, 28])
        #expect(train.labelHistogram() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        #expect(Array(train.labels.prefix(10)) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        #expect(Array(train.labels.suffix(5)) == [8, 3, 5, 6, 8])
        #expect(train.image(0).reduce(0) { $0 + Int($1) } == 27525)
        #expect(Array(train.image(0)[14 * 28 + 13 ..< 14 * 28 + 18]) == [81, 240, 253, 253, 119])
        #expect(pixelSum(train) == 1_567_298_545)
        #expect(train.maxPixelValue == 255)
        // Whole train split (9.9 MB gzip -> 47 MB): well under a second in release.
        #expect(elapsed < .seconds(3))

        let (test, _) = try loadTimed(.mnist, .test)
        #expect(test.count == 10000)
        #expect(test.labelHistogram() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        #expect(Array(test.labels.prefix(10)) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
        #expect(test.image(0).reduce(0) { $0 + Int($1) } == 18454)
        #expect(pixelSum(test) == 264_923_200)
    }

    @Test func fashionMNIST() throws {
        let (train, _) = try loadTimed(.fashionMNIST, .train)
        #expect(shape(train) == [60000, 1, 28, 28])
        #expect(train.labelHistogram() == Array(repeating: 6000, count: 10))
        #expect(Array(train.labels.prefix(10)) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
        #expect(train.image(0).reduce(0) { $0 + Int($1) } == 76247)
        #expect(pixelSum(train) == 3_431_114_169)

        let (test, _) = try loadTimed(.fashionMNIST, .test)
        #expect(test.count == 10000)
        #expect(test.labelHistogram() == Array(repeating: 1000, count: 10))
        #expect(Array(test.labels.prefix(10)) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        #expect(pixelSum(test) == 573_469_082)
    }

    @Test func sklearnDigits() throws {
        let (train, _) = try loadTimed(.digits, .train)
        #expect(shape(train) == [1437, 1, 8, 8])
        #expect(train.maxPixelValue == 16)
        #expect(train.labelHistogram() == [143, 146, 142, 146, 144, 145, 144, 143, 141, 143])
        #expect(Array(train.labels.prefix(10)) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(Array(train.image(0).prefix(16)) == [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0])
        #expect(pixelSum(train) == 449_372)
        #expect(train.pixels.max() == 16)

        let (test, _) = try loadTimed(.digits, .test)
        #expect(test.count == 360)
        #expect(test.labelHistogram() == [35, 36, 35, 37, 37, 37, 37, 36, 33, 37])
        #expect(Array(test.labels.prefix(10)) == [2, 3, 4, 5, 6, 7, 8, 9, 0, 9])
        #expect(test.labels.last == 8)
        #expect(pixelSum(test) == 112_346)
        // Together: the README's histogram of all 1,797 rows.
        #expect(zip(train.labelHistogram(), test.labelHistogram()).map(+) == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    }

    @Test func cifar10() throws {
        let (train, _) = try loadTimed(.cifar10, .train)
        #expect(shape(train) == [50000, 3, 32, 32])
        #expect(train.labelHistogram() == Array(repeating: 5000, count: 10))
        #expect(Array(train.labels.prefix(10)) == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3])
        // Image 0 (data_batch_1 record 0): first red pixels, first green, first blue.
        #expect(Array(train.image(0).prefix(5)) == [59, 43, 50, 68, 98])
        #expect(train.image(0)[1024] == 62 && train.image(0)[2048] == 63)
        // Image 40000 is data_batch_5's first record.
        #expect(train.labels[40000] == 1)
        #expect(Array(train.image(40000).prefix(5)) == [255, 252, 253, 250, 238])
        #expect(pixelSum(train) == 18_540_682_003)

        let (test, _) = try loadTimed(.cifar10, .test)
        #expect(test.count == 10000)
        #expect(test.labelHistogram() == Array(repeating: 1000, count: 10))
        #expect(Array(test.labels.prefix(10)) == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1])
        #expect(Array(test.image(0).prefix(5)) == [158, 159, 165, 166, 160])
        #expect(pixelSum(test) == 3_733_375_634)
    }
}

@Suite("Fashion-MNIST from Debian's dataset-fashion-mnist package",
       .enabled(if: FileManager.default.fileExists(atPath: DatasetLocator.debianFashionMNISTDirectory),
                "dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)"))
struct DebianFashionMNISTTests {
    /// Debian recompressed the .gz files (no file name in the header); the
    /// decompressed content is upstream's, so the same checks hold.
    @Test func readsThePackagedFiles() throws {
        let directory = try DatasetLocator.directory(for: .fashionMNIST, configuredPath: nil, environment: [:])
        #expect(directory.path == DatasetLocator.debianFashionMNISTDirectory)
        let train = try DatasetLoader.load(.fashionMNIST, split: .train, directory: directory)
        let test = try DatasetLoader.load(.fashionMNIST, split: .test, directory: directory)
        #expect(train.count == 60000 && test.count == 10000)
        #expect(train.labelHistogram() == Array(repeating: 6000, count: 10))
        #expect(Array(test.labels.prefix(10)) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        #expect(pixelSum(train) == 3_431_114_169 && pixelSum(test) == 573_469_082)
    }
}
