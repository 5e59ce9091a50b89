import Foundation
import PTrain

/// Writes a labelled image set as an image-folder tree, torchvision's
/// ImageFolder layout: `directory/CLASSNAME/NNNNN.png` (or `.jpg`), NNNNN the
/// image's index in the set, zero-padded to 5 digits. For making test and
/// benchmark folders from the bundled datasets (`ptrain make-image-folder`).
public enum ImageFolderExport {
    public enum Format: String, CaseIterable, Sendable {
        case png, jpeg
        public var fileExtension: String { self == .png ? "png" : "jpg" }
    }

    /// Writes the first `limit` images of `set` (all when nil), each resized
    /// to `side`×`side` when given (bilinear), as `format` (JPEG at `quality`,
    /// 4:2:0), each file atomically. Returns the files written, in index order.
    public static func write(_ set: ImageSet, classNames: [String], to directory: URL, format: Format,
                             quality: Int = 90, side: Int? = nil, limit: Int? = nil) throws -> [URL] {
        precondition(classNames.count == set.classes, "one class name per label")
        var written: [URL] = []
        for index in 0..<min(set.count, limit ?? set.count) {
            let original = interleaved(set, index)
            let image = side.map { BilinearUpscale.resize(original, width: $0, height: $0) } ?? original
            let bytes = format == .png ? try ImageEncoder.png(image) : try ImageEncoder.jpeg(image, quality: quality)
            let url = directory.appendingPathComponent(classNames[Int(set.labels[index])])
                .appendingPathComponent(String(format: "%05d.%@", index, format.fileExtension))
            try AtomicFile.write(Data(bytes), to: url)
            written.append(url)
        }
        return written
    }

    /// Image `index` of `set` (`[channels, height, width]` planes) as
    /// interleaved `[height, width, channels]` bytes.
    static func interleaved(_ set: ImageSet, _ index: Int) -> Image8 {
        let planes = set.image(index), plane = set.height * set.width, start = planes.startIndex
        var pixels = [UInt8](repeating: 0, count: set.pixelsPerImage)
        for p in 0..<plane {
            for c in 0..<set.channels { pixels[p * set.channels + c] = planes[start + c * plane + p] }
        }
        return Image8(width: set.width, height: set.height, channels: set.channels, pixels: pixels)
    }
}
