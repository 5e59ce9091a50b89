import Foundation

/// Writes files so that a crash never leaves a half-written one: the bytes go
/// to a temporary file in the same directory, which is flushed (fsync),
/// renamed over the target, and the directory is fsynced so the rename itself
/// survives a power loss.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible { public let description: String }

    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw WriteError(description: "\(tmp.path): cannot create (\(String(cString: strerror(errno))))") }
        var ok = true
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { ok = false; break }
                offset += n
            }
        }
        let err = errno
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok else {
            unlink(tmp.path)
            throw WriteError(description: "\(url.path): write failed (\(String(cString: strerror(err))))")
        }
        guard rename(tmp.path, url.path) == 0 else {
            let e = errno
            unlink(tmp.path)
            throw WriteError(description: "\(url.path): rename failed (\(String(cString: strerror(e))))")
        }
        syncDirectory(dir)
    }

    /// fsync of a directory, so that a rename inside it survives a power loss.
    public static func syncDirectory(_ dir: URL) {
        let dfd = open(dir.path, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    public static func write(_ text: String, to url: URL) throws { try write(Data(text.utf8), to: url) }
}
