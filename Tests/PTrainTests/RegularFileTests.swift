import Foundation
import PTrain
import Testing

/// A fresh directory for one test, removed afterwards.
func withScratchDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ptrain-file-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// A named pipe at `url`. Reading it would block until a writer appears, so
/// the code under test must refuse it without opening it.
func makeFIFO(_ url: URL) throws {
    guard mkfifo(url.path, 0o644) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
}

@Suite("RegularFile: only regular files are read, refused by kind before opening")
struct RegularFileTests {
    @Test func readsARegularFileAndItsSymlink() throws {
        try withScratchDirectory { dir in
            let file = dir.appendingPathComponent("f.bin")
            try Data([1, 2, 3]).write(to: file)
            #expect(try RegularFile.read(file.path) == Data([1, 2, 3]))
            let empty = dir.appendingPathComponent("empty")
            try Data().write(to: empty)
            #expect(try RegularFile.read(empty.path) == Data())
            let link = dir.appendingPathComponent("link")
            try FileManager.default.createSymbolicLink(at: link, withDestinationURL: file)
            #expect(try RegularFile.read(link.path) == Data([1, 2, 3]))
        }
    }

    @Test func refusesEveryOtherKindSayingWhatItIs() throws {
        try withScratchDirectory { dir in
            let fifo = dir.appendingPathComponent("pipe")
            try makeFIFO(fifo)
            #expect(throws: RegularFile.ReadError(path: fifo.path, reason: "is a FIFO (named pipe), not a regular file")) {
                _ = try RegularFile.read(fifo.path)
            }
            #expect(throws: RegularFile.ReadError(path: dir.path, reason: "is a directory, not a regular file")) {
                _ = try RegularFile.read(dir.path)
            }
            #expect(throws: RegularFile.ReadError(path: "/dev/null", reason: "is a character device, not a regular file")) {
                _ = try RegularFile.read("/dev/null")
            }
            let missing = dir.appendingPathComponent("nope").path
            #expect(throws: RegularFile.ReadError(path: missing, reason: "cannot open: No such file or directory", code: ENOENT)) {
                _ = try RegularFile.read(missing)
            }
            #expect(try #require(throws: RegularFile.ReadError.self) { try RegularFile.check(missing) }.description
                    == "\(missing): cannot open: No such file or directory")
        }
    }

    @Test func namesSocketsAndBlockDevices() {
        #expect(RegularFile.kind(of: S_IFSOCK | 0o755) == "a socket")
        #expect(RegularFile.kind(of: S_IFBLK | 0o660) == "a block device")
        #expect(RegularFile.kind(of: S_IFREG | 0o644) == "a regular file")
    }
}
