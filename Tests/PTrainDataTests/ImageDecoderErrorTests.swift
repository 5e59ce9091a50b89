import Foundation
import PTrainData
import Testing

/// The one-line error of decoding `url`'s file (through `decodeFile`).
private func decodeError(_ url: URL, channels: Int = 3) -> String? {
    do {
        _ = try ImageDecoder().decodeFile(url.path, channels: channels)
        return nil
    } catch let error as DataError {
        return error.description
    } catch {
        return "not a DataError: \(error)"
    }
}

@Suite("ImageDecoder errors: one line naming the file, never a trap or grey pixels")
struct ImageDecoderErrorTests {
    @Test func truncatedFilesAreErrors() throws {
        try withTemporaryDirectory { dir in
            // libjpeg-turbo calls this a warning and would return grey-filled rows.
            let jpeg = try ImageEncoder.jpeg(testImage(width: 64, height: 64, channels: 3), quality: 90)
            let halfJPEG = try write(Array(jpeg.prefix(jpeg.count / 2)), "half.jpg", in: dir)
            #expect(decodeError(halfJPEG) == "\(halfJPEG.path): truncated JPEG (libjpeg-turbo: Premature end of JPEG file)")
            let png = try ImageEncoder.png(testImage(width: 64, height: 64, channels: 3))
            let halfPNG = try write(Array(png.prefix(png.count / 2)), "half.png", in: dir)
            #expect(decodeError(halfPNG) == "\(halfPNG.path): truncated PNG (libpng: read past the end of the file at byte offset \(png.count / 2))")
            // Cut inside the header: still the same kind of message.
            let headerOnly = try write(Array(png.prefix(20)), "header.png", in: dir)
            #expect(decodeError(headerOnly) == "\(headerOnly.path): truncated PNG (libpng: read past the end of the file at byte offset 20)")
        }
    }

    @Test func flippedBytesAreErrors() throws {
        try withTemporaryDirectory { dir in
            var png = try ImageEncoder.png(testImage(width: 64, height: 64, channels: 3))
            png[png.count / 2] ^= 0xFF
            let badPNG = try write(png, "flipped.png", in: dir)
            #expect(decodeError(badPNG) == "\(badPNG.path): corrupt PNG (libpng: bad adaptive filter value)")
            var jpeg = try ImageEncoder.jpeg(testImage(width: 64, height: 64, channels: 3), quality: 90)
            for i in jpeg.count / 2 ..< jpeg.count / 2 + 16 { jpeg[i] ^= 0x5A }
            let badJPEG = try write(jpeg, "flipped.jpg", in: dir)
            #expect(decodeError(badJPEG) == "\(badJPEG.path): corrupt JPEG (libjpeg-turbo: Corrupt JPEG data: 38 extraneous bytes before marker 0xd9)")
        }
    }

    @Test func otherFormatsAndEmptyFilesAreNamed() throws {
        try withTemporaryDirectory { dir in
            let gif = try write(Array("GIF89a\u{1}\u{0}".utf8), "x.jpg", in: dir)
            #expect(decodeError(gif) == "\(gif.path): not a JPEG or PNG image (first bytes 47 49 46 38)")
            let text = try write(Array("hi\n".utf8), "notes.png", in: dir)
            #expect(decodeError(text) == "\(text.path): not a JPEG or PNG image (first bytes 68 69 0A)")
            let empty = try write([], "empty.jpg", in: dir)
            #expect(decodeError(empty) == "\(empty.path): empty file (0 bytes)")
            #expect(throws: DataError("mem: empty file (0 bytes)")) { _ = try decoded([], channels: 3) }
            let png = try ImageEncoder.png(testImage(width: 2, height: 2, channels: 3))
            #expect(throws: DataError("mem: cannot decode to 4 channels, expected 1 (gray) or 3 (RGB)")) { _ = try decoded(png, channels: 4) }
            // A header claiming 70000 x 70000 pixels is refused before any buffer is sized for it.
            let huge = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + pngChunk("IHDR", bigEndian(70000) + bigEndian(70000) + [8, 0, 0, 0, 0])
                + pngChunk("IDAT", [0x78, 0x9C]) + pngChunk("IEND", [])
            #expect(throws: DataError("mem: image is 70000x70000 pixels, more than the limit of 268435456")) { _ = try decoded(huge, channels: 1) }
        }
    }

    @Test func directoriesFIFOsAndMissingFilesAreNamed() throws {
        try withTemporaryDirectory { dir in
            let directory = dir.appendingPathComponent("x.jpg")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
            #expect(decodeError(directory) == "\(directory.path): is a directory, expected an image file")
            // Opened with O_NONBLOCK, so no writer is waited for: refused at once.
            let fifo = dir.appendingPathComponent("pipe.png")
            #expect(mkfifo(fifo.path, 0o644) == 0)
            #expect(decodeError(fifo) == "\(fifo.path): is a FIFO (named pipe), expected an image file")
            let missing = dir.appendingPathComponent("missing.png")
            #expect(decodeError(missing) == "\(missing.path): cannot open: No such file or directory")
        }
    }

    @Test(.enabled(if: geteuid() != 0, "running as root: chmod 000 does not stop root from reading, so there is nothing to check"))
    func unreadableFilesAreNamed() throws {
        try withTemporaryDirectory { dir in
            let locked = try write(try ImageEncoder.png(testImage(width: 2, height: 2, channels: 1)), "locked.png", in: dir)
            #expect(chmod(locked.path, 0) == 0)
            #expect(decodeError(locked) == "\(locked.path): cannot open: Permission denied")
        }
    }

    @Test func encoderArgumentsAreChecked() {
        #expect(throws: DataError("JPEG quality: expected 1...100, found 0")) {
            _ = try ImageEncoder.jpeg(testImage(width: 2, height: 2, channels: 3), quality: 0)
        }
    }
}
