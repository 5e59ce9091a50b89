import Foundation
import PTrainData
import Testing

@Suite("GzipFile: whole-file reads through zlib, gzip recognised by magic")
struct GzipFileTests {
    let content: [UInt8] = (0 ..< 100_000).map { UInt8(($0 * 7 + $0 / 300) % 251) }

    @Test func readsPlainFile() throws {
        try withTemporaryDirectory { dir in
            let url = try write(content, "plain.bin", in: dir)
            let file = try GzipFile.read(url)
            #expect(file.bytes == content)
            #expect(!file.isGzip)
            #expect(file.path == url.path)
            #expect(file.at(5) == "\(url.path): byte offset 5")
        }
    }

    @Test func readsGzipFile() throws {
        try withTemporaryDirectory { dir in
            let url = try write(try gzipped(content), "data.bin.gz", in: dir)
            let file = try GzipFile.read(url)
            #expect(file.bytes == content)
            #expect(file.isGzip)
            #expect(file.at(5) == "\(url.path): offset 5 in decompressed stream")
        }
    }

    @Test func recognisesGzipByMagicNotByName() throws {
        try withTemporaryDirectory { dir in
            let gzipWithoutSuffix = try write(try gzipped(content), "data.bin", in: dir)
            let plainWithSuffix = try write(content, "plain.gz", in: dir)
            let a = try GzipFile.read(gzipWithoutSuffix)
            let b = try GzipFile.read(plainWithSuffix)
            #expect(a.isGzip && a.bytes == content)
            #expect(!b.isGzip && b.bytes == content)
        }
    }

    @Test func readsEmptyFilesAndTinyFiles() throws {
        try withTemporaryDirectory { dir in
            #expect(try GzipFile.read(try write([], "empty", in: dir)).bytes == [])
            // A lone 0x1f is not the two-byte magic: read as plain.
            let one = try GzipFile.read(try write([0x1f], "one", in: dir))
            #expect(one.bytes == [0x1f] && !one.isGzip)
            let emptyGzip = try GzipFile.read(try write(try gzipped([]), "empty.gz", in: dir))
            #expect(emptyGzip.bytes == [] && emptyGzip.isGzip)
        }
    }

    /// ISIZE (the size hint) only covers the last member; the reader must keep reading.
    @Test func readsConcatenatedGzipMembers() throws {
        try withTemporaryDirectory { dir in
            let tail: [UInt8] = Array("second member".utf8)
            let url = try write(try gzipped(content) + gzipped(tail), "two.gz", in: dir)
            #expect(try GzipFile.read(url).bytes == content + tail)
        }
    }

    @Test func corruptChecksumIsAnError() throws {
        try withTemporaryDirectory { dir in
            var gz = try gzipped(content)
            gz[gz.count - 8] ^= 0xff  // first byte of the CRC-32 trailer
            let url = try write(gz, "crc.gz", in: dir)
            #expect(throws: DataError("\(url.path): corrupt gzip stream: incorrect data check")) {
                try GzipFile.read(url)
            }
        }
    }

    @Test func corruptDeflateDataIsAnError() throws {
        try withTemporaryDirectory { dir in
            // A valid 10-byte gzip header, then 0xff: BFINAL=1, BTYPE=11 (reserved).
            let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]
            let url = try write(header + [UInt8](repeating: 0xff, count: 40), "bad.gz", in: dir)
            #expect(throws: DataError("\(url.path): corrupt gzip stream: invalid block type")) {
                try GzipFile.read(url)
            }
        }
    }

    @Test func badGzipHeaderIsAnError() throws {
        try withTemporaryDirectory { dir in
            // The magic, then compression method 7 instead of 8 (deflate).
            let url = try write([0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0, count: 20), "method.gz", in: dir)
            #expect(throws: DataError("\(url.path): corrupt gzip stream: unknown compression method")) {
                try GzipFile.read(url)
            }
        }
    }

    @Test func truncatedGzipIsAnError() throws {
        try withTemporaryDirectory { dir in
            let gz = try gzipped(content)
            // Without the 8-byte trailer every data byte is there but the stream never ends.
            let noTrailer = try write(Array(gz.dropLast(8)), "notrailer.gz", in: dir)
            #expect(throws: DataError("\(noTrailer.path): gzip stream is truncated (unexpected end of file after \(content.count) bytes of decompressed data)")) {
                try GzipFile.read(noTrailer)
            }
            // Cut in the middle of the deflate data: still an error, never a short read.
            let half = try write(Array(gz.prefix(gz.count / 2)), "half.gz", in: dir)
            let error = #expect(throws: DataError.self) { try GzipFile.read(half) }
            #expect(error?.description.hasPrefix("\(half.path): gzip stream is truncated (unexpected end of file after ") == true)
        }
    }

    @Test func missingFileAndDirectoryAreErrors() throws {
        try withTemporaryDirectory { dir in
            let missing = dir.appendingPathComponent("nope.gz")
            #expect(throws: DataError("\(missing.path): cannot open: No such file or directory")) {
                try GzipFile.read(missing)
            }
            #expect(throws: DataError("\(dir.path): is a directory, not a regular file")) {
                try GzipFile.read(dir)
            }
        }
    }

    @Test func aFIFOIsRefusedWithoutOpeningIt() throws {
        try withTemporaryDirectory { dir in
            // Opening a FIFO for reading blocks until a writer appears: the kind is checked first.
            let fifo = dir.appendingPathComponent("train-images-idx3-ubyte.gz")
            #expect(mkfifo(fifo.path, 0o644) == 0)
            #expect(throws: DataError("\(fifo.path): is a FIFO (named pipe), not a regular file")) {
                try GzipFile.read(fifo)
            }
            #expect(throws: DataError("\(fifo.path): is a FIFO (named pipe), not a regular file")) {
                try GzipFile.locate("train-images-idx3-ubyte", in: dir)
            }
            #expect(throws: DataError("/dev/null: is a character device, not a regular file")) {
                try GzipFile.read(URL(fileURLWithPath: "/dev/null"))
            }
        }
    }

    @Test func locatePrefersTheUncompressedFile() throws {
        try withTemporaryDirectory { dir in
            try write([1], "a", in: dir)
            try write([2], "a.gz", in: dir)
            try write([3], "b.gz", in: dir)
            #expect(try GzipFile.locate("a", in: dir).lastPathComponent == "a")
            #expect(try GzipFile.locate("b", in: dir).lastPathComponent == "b.gz")
            #expect(throws: DataError("\(dir.path): missing file c: neither \(dir.path)/c nor \(dir.path)/c.gz exists")) {
                try GzipFile.locate("c", in: dir)
            }
            // A directory with the file's name is not the file, and is called what it is.
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("d"), withIntermediateDirectories: false)
            #expect(throws: DataError("\(dir.path)/d: is a directory, not a regular file")) {
                try GzipFile.locate("d", in: dir)
            }
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("e.gz"), withIntermediateDirectories: false)
            #expect(throws: DataError("\(dir.path)/e.gz: is a directory, not a regular file")) {
                try GzipFile.locate("e", in: dir)
            }
            // A regular file still wins over a directory of the other name.
            try write([4], "d.gz", in: dir)
            #expect(try GzipFile.locate("d", in: dir).lastPathComponent == "d.gz")
        }
    }
}
