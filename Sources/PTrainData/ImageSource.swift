import PTrain

/// Where the images of a split are: bytes in memory (the built-in datasets,
/// loaded whole), or image files decoded when a batch needs them (folders of
/// photographs; memory does not grow with their number).
public enum ImageSource: Sendable {
    case memory(ImageSet)
    /// Files decoded to `channels` channels (1 gray, 3 RGB).
    case files(ImageFileList, channels: Int)

    public var name: String {
        switch self {
        case .memory(let set): set.name
        case .files(let list, _): list.name
        }
    }

    public var count: Int {
        switch self {
        case .memory(let set): set.count
        case .files(let list, _): list.count
        }
    }

    public var classes: Int {
        switch self {
        case .memory(let set): set.classes
        case .files(let list, _): list.classes
        }
    }

    public var channels: Int {
        switch self {
        case .memory(let set): set.channels
        case .files(_, let channels): channels
        }
    }

    /// Stored pixel values run `0...maxPixelValue` (255, or 16 for digits).
    public var maxPixelValue: Float {
        switch self {
        case .memory(let set): set.maxPixelValue
        case .files: 255
        }
    }

    @inline(__always) public func label(_ index: Int) -> UInt16 {
        switch self {
        case .memory(let set): set.labels[index]
        case .files(let list, _): list.labels[index]
        }
    }

    /// Calls `body` with image `index`'s pixels: a view into the stored bytes
    /// (planar CHW), or the file decoded into `scratch` (interleaved HWC;
    /// JPEGs at the smallest DCT scale whose shorter side is at least
    /// `decodeShorterSide`). Throws the decoder's `DataError` for a bad file.
    public func withPixels(_ index: Int, decodeShorterSide: Int?, scratch: SampleScratch,
                           _ body: (PixelView) throws -> Void) throws {
        switch self {
        case .memory(let set):
            try set.pixels.withUnsafeBufferPointer { px in
                try body(PixelView(width: set.width, height: set.height, channels: set.channels, layout: .planar,
                                   pixels: px.baseAddress! + index * set.pixelsPerImage, maxValue: set.maxPixelValue))
            }
        case .files(let list, let channels):
            let image = try scratch.decoder.decodeFile(list.paths[index], channels: channels,
                                                        minimumShorterSide: decodeShorterSide)
            try body(PixelView(width: image.width, height: image.height, channels: image.channels, layout: .interleaved,
                               pixels: image.pixels, maxValue: 255))
        }
    }
}

/// One thread's buffers for filling samples: the decoder's file and pixel
/// buffers and the transforms' planes, each grown to the largest image seen
/// and then reused (no allocation per sample once warm).
public final class SampleScratch {
    public let decoder = ImageDecoder()
    public let transforms = TransformScratch()
    public init() {}
}
