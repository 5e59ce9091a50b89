import Foundation
import PTrain

extension ReusableBuffer {
    /// Reads the whole regular file `path` into the buffer and returns its
    /// length in bytes.
    ///
    /// open, then fstat on the open descriptor (one path lookup, no race
    /// between the check and the read): a FIFO is opened with O_NONBLOCK, so
    /// it is refused by kind instead of blocking until a writer appears. Each
    /// failure is one line naming the path, in `RegularFile`'s wording.
    func readFile(_ path: String) throws -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw Self.systemError(path, "cannot open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Self.systemError(path, "cannot stat") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw DataError("\(path): is \(RegularFile.kind(of: info.st_mode)), expected an image file")
        }
        // One spare byte: filling it means the file grew since fstat; read on.
        reserve(Int(info.st_size) + 1)
        var got = 0
        while true {
            if got == capacity { grow(keeping: got, to: capacity * 2) }
            let n = read(fd, base + got, capacity - got)
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.systemError(path, "read failed after \(got) bytes")
            }
            if n == 0 { break }
            got += n
        }
        guard got > 0 else { throw DataError("\(path): empty file (0 bytes)") }
        return got
    }

    /// `PATH: what: strerror(errno)`.
    private static func systemError(_ path: String, _ what: String) -> DataError {
        DataError("\(path): \(what): \(String(cString: strerror(errno)))")
    }
}
