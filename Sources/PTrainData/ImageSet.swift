/// A labelled image set held as bytes, exactly as the dataset stores them.
///
/// Layout: `pixels` is `[count, channels, height, width]`, row-major (NCHW), one
/// byte per value; `labels` is `[count]`, each `< classes`. Pixel values are the
/// raw stored values in `0...maxPixelValue` (255 for IDX and CIFAR, 16 for the
/// scikit-learn digits): consumers scale by `1 / maxPixelValue`.
public struct ImageSet: Sendable {
    /// What the set is, for messages: `"mnist/train"`, `"cifar-10/test"`.
    public let name: String
    public let count: Int, channels: Int, height: Int, width: Int
    /// `[count, channels, height, width]`, row-major.
    public let pixels: [UInt8]
    /// `[count]`, each `< classes` (16 bits: synthetic ImageNet-size sets have 1000 classes).
    public let labels: [UInt16]
    public let maxPixelValue: Float
    public let classes: Int

    /// The buffers must match the shape: `pixels.count == count * channels *
    /// height * width` and `labels.count == count` (checked; a mismatch is a
    /// programming error and traps). Labels are not re-checked here: every reader
    /// has already checked each label `< classes` against its file and reported
    /// the offending offset, which is the message a user needs.
    public init(name: String, count: Int, channels: Int, height: Int, width: Int,
                pixels: [UInt8], labels: [UInt8], maxPixelValue: Float, classes: Int) {
        self.init(name: name, count: count, channels: channels, height: height, width: width, pixels: pixels,
                  labels: labels.map(UInt16.init), maxPixelValue: maxPixelValue, classes: classes)
    }

    public init(name: String, count: Int, channels: Int, height: Int, width: Int,
                pixels: [UInt8], labels: [UInt16], maxPixelValue: Float, classes: Int) {
        let (plane, o1) = height.multipliedReportingOverflow(by: width)
        let (perImage, o2) = plane.multipliedReportingOverflow(by: channels)
        let (total, o3) = perImage.multipliedReportingOverflow(by: count)
        precondition(count >= 0 && channels > 0 && height > 0 && width > 0 && !o1 && !o2 && !o3,
                     "\(name): bad shape [\(count), \(channels), \(height), \(width)]")
        precondition(pixels.count == total, "\(name): \(pixels.count) pixel bytes for shape [\(count), \(channels), \(height), \(width)]")
        precondition(labels.count == count, "\(name): \(labels.count) labels for \(count) images")
        precondition(classes > 0 && maxPixelValue > 0, "\(name): \(classes) classes, maxPixelValue \(maxPixelValue)")
        self.name = name
        self.count = count
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
        self.maxPixelValue = maxPixelValue
        self.classes = classes
    }

    /// Bytes of one image: `channels * height * width`.
    public var pixelsPerImage: Int { channels * height * width }

    /// The pixels of image `index` (`[channels, height, width]`).
    public func image(_ index: Int) -> ArraySlice<UInt8> {
        pixels[index * pixelsPerImage ..< (index + 1) * pixelsPerImage]
    }

    /// How many images carry each label: `[classes]`.
    public func labelHistogram() -> [Int] {
        var histogram = [Int](repeating: 0, count: classes)
        for label in labels { histogram[Int(label)] += 1 }
        return histogram
    }
}
