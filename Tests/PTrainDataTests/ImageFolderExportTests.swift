import Foundation
import PTrain
import PTrainData
import Testing

@Suite("ImageFolderExport: CIFAR-10 as CLASS/NNNNN.png|jpg files")
struct ImageFolderExportTests {
    /// CIFAR records whose pixels differ per channel, row and column (label, then R, G, B planes).
    private func records(_ labels: [UInt8]) -> [UInt8] {
        labels.enumerated().flatMap { (i: Int, label: UInt8) -> [UInt8] in
            let pixels: [UInt8] = (0..<3072).map { (p: Int) -> UInt8 in UInt8(truncatingIfNeeded: p * 7 + i * 31 + p / 1024 * 50) }
            return [label] + pixels
        }
    }

    private let names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    @Test func pngFilesDecodeBackToTheRecordsPixels() throws {
        try withTemporaryDirectory { dir in
            let labels = (0..<20).map { UInt8($0 * 3 % 10) }
            let batch = try write(records(labels), "test_batch.bin", in: dir)
            try Data((names.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("batches.meta.txt"))
            #expect(try CIFARReader.classNames(in: dir) == names)
            let set = try CIFARReader.cifar10.read(batches: [batch], name: "cifar-10/test")
            let out = dir.appendingPathComponent("folder/test")
            let files = try ImageFolderExport.write(set, classNames: names, to: out, format: .png)
            #expect(files.count == 20)
            #expect(files[4].path == out.appendingPathComponent("bird/00004.png").path)  // label 4 · 3 mod 10 = 2
            let decoder = ImageDecoder()
            for (i, file) in files.enumerated() {
                #expect(file.deletingLastPathComponent().lastPathComponent == names[Int(labels[i])])
                let image = try decoder.decodeFile(file.path, channels: 3)
                #expect(image.width == 32 && image.height == 32)
                // HWC in the file, CHW planes in the record.
                let planes = set.image(i)
                let expected = (0..<1024).flatMap { p in (0..<3).map { planes[planes.startIndex + $0 * 1024 + p] } }
                #expect(image.image8().pixels == expected, "image \(i)")
            }
            let limited = try ImageFolderExport.write(set, classNames: names, to: dir.appendingPathComponent("jpeg"),
                                                      format: .jpeg, quality: 90, side: 64, limit: 3)
            #expect(limited.map(\.lastPathComponent) == ["00000.jpg", "00001.jpg", "00002.jpg"])
            let big = try decoder.decodeFile(limited[1].path, channels: 3)
            #expect(big.width == 64 && big.height == 64)
        }
    }

    /// Half-pixel centres: output x maps to (x + 0.5)·2/4 − 0.5 = −0.25, 0.25, 0.75, 1.25 (clamped to 0 and 1).
    @Test func bilinearUpscaleByHand() {
        let row = Image8(width: 2, height: 1, channels: 1, pixels: [0, 100])
        #expect(BilinearUpscale.resize(row, width: 4, height: 2).pixels == [0, 25, 75, 100, 0, 25, 75, 100])
        let flat = Image8(width: 3, height: 3, channels: 3, pixels: [UInt8](repeating: 77, count: 27))
        #expect(BilinearUpscale.resize(flat, width: 10, height: 7).pixels == [UInt8](repeating: 77, count: 210))
    }

    @Test func classNamesMustBeTenFolderNames() throws {
        try withTemporaryDirectory { dir in
            let meta = dir.appendingPathComponent("batches.meta.txt")
            try Data("a\nb\n\n".utf8).write(to: meta)
            #expect(throws: DataError("\(meta.path): expected 10 class names (one per line), found 2")) { try CIFARReader.classNames(in: dir) }
            try Data((["x/y"] + names.dropFirst()).joined(separator: "\n").utf8).write(to: meta)
            #expect(throws: DataError("\(meta.path): class name 'x/y' cannot be a folder name")) { try CIFARReader.classNames(in: dir) }
            try FileManager.default.removeItem(at: meta)
            #expect(throws: DataError("\(meta.path): cannot open: No such file or directory")) { try CIFARReader.classNames(in: dir) }
        }
    }
}
