import ArgumentParser
import Foundation
import PTrain
import PTrainData

/// `ptrain make-image-folder` (hidden; run it as tools/make-image-folder):
/// CIFAR-10 written as an image-folder tree, to try image-folder datasets and
/// to measure decoding on realistic files.
struct MakeImageFolderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-image-folder",
        abstract: "Write CIFAR-10 as OUT/train/CLASS/NNNNN.png|jpg and OUT/test/... (tools/make-image-folder).",
        shouldDisplay: false)

    @Argument(help: "Output directory (created).")
    var out: String

    @Option(help: "png or jpeg.")
    var format: String = "png"

    @Option(help: "JPEG quality, 1...100.")
    var quality: Int = 90

    @Option(help: "Resize each image to SIZE x SIZE (bilinear; default: CIFAR's 32 px).")
    var size: Int?

    @Option(help: "Images per split (default: all).")
    var limit: Int?

    @Option(help: "The CIFAR-10 binary batches' directory (default: $PTRAIN_DATA/cifar-10).")
    var data: String?

    @Flag(help: "Afterwards decode every file written (one thread) and print images/s: full size and, for JPEG, DCT-scaled to half the side.")
    var measureDecode = false

    func validate() throws {
        guard ImageFolderExport.Format(rawValue: format) != nil else {
            throw ValidationError("--format: expected png or jpeg, found '\(format)'")
        }
        guard (1...100).contains(quality) else { throw ValidationError("--quality: expected 1...100, found \(quality)") }
        if let size, size < 1 { throw ValidationError("--size: expected a positive number of pixels, found \(size)") }
        if let limit, limit < 0 { throw ValidationError("--limit: expected 0 or more images, found \(limit)") }
    }

    func run() throws {
        try reportingErrors {
            let directory = try DatasetLocator.directory(for: .cifar10, configuredPath: data,
                                                         environment: ProcessInfo.processInfo.environment)
            let names = try CIFARReader.classNames(in: directory)
            let fileFormat = ImageFolderExport.Format(rawValue: format)!
            var files: [URL] = []
            for split in [DatasetSplit.train, .test] {
                let set = try DatasetLoader.load(.cifar10, split: split, directory: directory)
                let splitDirectory = URL(fileURLWithPath: out).appendingPathComponent(split.rawValue)
                let written = try ImageFolderExport.write(set, classNames: names, to: splitDirectory, format: fileFormat,
                                                          quality: quality, side: size, limit: limit)
                say("\(splitDirectory.path): \(written.count) \(format) files, \(size ?? CIFARReader.side) px")
                files += written
            }
            guard measureDecode, !files.isEmpty else { return }
            let side = size ?? CIFARReader.side
            for minimum in fileFormat == .jpeg ? [nil, side / 2] : [nil] {
                let (rate, decoded) = try decodeRate(files.map(\.path), minimumShorterSide: minimum)
                say("decode: \(String(format: "%.0f", rate)) images/s, one thread, \(decoded.width)x\(decoded.height) "
                    + "(\(minimum.map { "minimum shorter side \($0)" } ?? "full size"), \(files.count) files)")
            }
        }
    }

    /// Images/s of one decoder reading and decoding every file once (the first
    /// decode warms up the buffers and is not timed), and the last image's size.
    private func decodeRate(_ paths: [String], minimumShorterSide: Int?) throws -> (Double, (width: Int, height: Int)) {
        let decoder = ImageDecoder()
        var last = try decoder.decodeFile(paths[0], channels: 3, minimumShorterSide: minimumShorterSide)
        let start = monotonicSeconds()
        for path in paths { last = try decoder.decodeFile(path, channels: 3, minimumShorterSide: minimumShorterSide) }
        return (Double(paths.count) / (monotonicSeconds() - start), (last.width, last.height))
    }
}
