import Foundation

/// The one gate every reader of a named file goes through: the path must be a
/// regular file (symbolic links followed), checked with `stat` BEFORE it is
/// opened, because opening a FIFO for reading blocks until a writer appears
/// and a device or socket is never the data it claims to be.
///
/// Errors are `PATH: reason` with the system's own cause (`strerror`), not
/// Foundation's wrapped messages (which call a FIFO a permission problem).
public enum RegularFile {
    public struct ReadError: Error, CustomStringConvertible, Equatable {
        public let path: String
        /// What is wrong, without the path: `is a FIFO (named pipe), not a regular file`.
        public let reason: String
        /// The `errno` behind the error (`ENOENT` for a missing file), 0 for a wrong file type.
        public let code: Int32
        public var description: String { "\(path): \(reason)" }

        public init(path: String, reason: String, code: Int32 = 0) {
            self.path = path; self.reason = reason; self.code = code
        }
    }

    /// What `mode` (a `stat` `st_mode`) says the object is, for messages:
    /// `a directory`, `a FIFO (named pipe)`, ...
    public static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file (mode \(String(mode & S_IFMT, radix: 8)))"
        }
    }

    /// Succeeds when `path` is a regular file; otherwise says what it is, or
    /// why it cannot be looked at (`cannot open: No such file or directory`).
    public static func check(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            throw ReadError(path: path, reason: "cannot open: \(String(cString: strerror(code)))", code: code)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ReadError(path: path, reason: "is \(kind(of: info.st_mode)), not a regular file")
        }
    }

    /// The whole content of the regular file `path`.
    public static func read(_ path: String) throws -> Data {
        try check(path)
        // O_NONBLOCK: should the path have become a FIFO since the check, open
        // returns at once instead of waiting for a writer; fstat then refuses it.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw systemError(path, "cannot open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw systemError(path, "cannot stat") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ReadError(path: path, reason: "is \(kind(of: info.st_mode)), not a regular file")
        }
        var data = Data(count: Int(info.st_size))
        var got = 0
        while true {
            if got == data.count { data.count += max(4096, data.count / 2) }  // the file grew: read on
            let n = data.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 {
                if errno == EINTR { continue }
                throw systemError(path, "read failed after \(got) bytes")
            }
            if n == 0 { break }
            got += n
        }
        data.count = got
        return data
    }

    /// `PATH: what: strerror(errno)`.
    private static func systemError(_ path: String, _ what: String) -> ReadError {
        let code = errno
        return ReadError(path: path, reason: "\(what): \(String(cString: strerror(code)))", code: code)
    }
}
