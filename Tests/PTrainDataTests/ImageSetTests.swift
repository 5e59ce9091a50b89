import PTrainData
import Testing

@Suite("ImageSet and DataError: the types consumers build on")
struct ImageSetTests {
    @Test func histogramAndImages() {
        let set = ImageSet(name: "t", count: 3, channels: 2, height: 1, width: 2,
                           pixels: Array(0 ..< 12), labels: [2, 0, 2] as [UInt8], maxPixelValue: 255, classes: 3)
        #expect(set.pixelsPerImage == 4)
        #expect(Array(set.image(2)) == [8, 9, 10, 11])
        #expect(set.labelHistogram() == [1, 0, 2])
    }

    /// Construction as PTrainData's own consumers write it (SyntheticImages,
    /// DataSources): a non-throwing ImageSet init and DataError(description:).
    @Test func constructionAsConsumersWriteIt() {
        let empty = ImageSet(name: "synthetic/train", count: 0, channels: 3, height: 32, width: 32,
                             pixels: [], labels: [UInt8](), maxPixelValue: 255, classes: 10)
        #expect(empty.count == 0 && empty.labelHistogram() == Array(repeating: 0, count: 10))
        #expect(DataError(description: "x: y") == DataError("x: y"))
        #expect(DataError("x: y").description == "x: y")
    }
}
