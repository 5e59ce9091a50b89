import CZlib
import Foundation
import PTrain
#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole dataset file, through zlib, whether it is gzip or plain.
///
/// A file is gzip when its first two bytes are the gzip magic `1f 8b`; the name
/// (`.gz` or not) plays no part. zlib's `gzread` decompresses gzip (including
/// concatenated members) and copies anything else as it is. A damaged gzip
/// stream (bad CRC, bad deflate data, cut short) is a `DataError` naming the
/// file. Note: like `gunzip`, zlib ignores non-gzip bytes *after* a complete
/// gzip member; the readers' own size checks apply to the decompressed data.
public enum GzipFile {
    /// The two bytes every gzip member starts with.
    public static let magic: [UInt8] = [0x1f, 0x8b]

    /// The whole content of `url`, decompressed if it starts with the gzip magic.
    public static func read(_ url: URL) throws -> FileBytes {
        let path = url.path
        // Checked before open: opening a FIFO would block until a writer appears.
        try DataError.requireRegularFile(path)
        // O_NONBLOCK (no effect on a regular file): should the path have become
        // a FIFO since the check, open returns at once and fstat refuses it.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw DataError("\(path): cannot open: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw DataError("\(path): is \(RegularFile.kind(of: info.st_mode)), not a regular file")
        }
        let fileSize = Int(info.st_size)

        var head: [UInt8] = [0, 0]
        let isGzip = pread(fd, &head, 2, 0) == 2 && head == magic

        // Size the buffer once: a gzip trailer ends with ISIZE, the decompressed
        // size mod 2^32 (of the last member). Deflate expands at most ~1032x, so
        // a damaged ISIZE cannot make us allocate absurdly.
        var expected = fileSize
        if isGzip {
            var tail: [UInt8] = [0, 0, 0, 0]
            if fileSize >= 18, pread(fd, &tail, 4, off_t(fileSize - 4)) == 4 {
                let isize = Int(tail[0]) | Int(tail[1]) << 8 | Int(tail[2]) << 16 | Int(tail[3]) << 24
                expected = min(isize, fileSize * 1032)
            } else {
                expected = fileSize * 4
            }
        }

        guard let gz = gzdopen(fd, "rb") else {
            close(fd)
            throw DataError("\(path): cannot open through zlib (out of memory?)")
        }
        var closed = false
        defer { if !closed { gzclose(gz) } }
        gzbuffer(gz, 1 << 17)

        /// Fills `buffer` from the stream; returns how many bytes it got (fewer at end of stream).
        func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            var got = 0
            while got < buffer.count {
                let want = UInt32(min(buffer.count - got, 1 << 30))
                let n = gzread(gz, buffer.baseAddress! + got, want)
                if n < 0 { throw streamError(after: nil) }
                if n == 0 { break }
                got += Int(n)
            }
            return got
        }

        /// The error zlib reports, worded for a reader; `nil` if there is none.
        func streamError(after count: Int?) -> DataError {
            var code: Int32 = 0
            let message = zlibMessage(gzerror(gz, &code))
            if code == Z_BUF_ERROR {
                let where_ = count.map { " after \($0) bytes of decompressed data" } ?? ""
                return DataError("\(path): gzip stream is truncated (unexpected end of file\(where_))")
            }
            return DataError("\(path): corrupt gzip stream: \(message)")
        }

        // One extra byte of room tells "exactly as expected" from "more to come"
        // without a second read.
        var bytes = try [UInt8](unsafeUninitializedCapacity: expected + 1) { buffer, initialized in
            initialized = try fill(UnsafeMutableRawBufferPointer(buffer))
        }
        if bytes.count == expected + 1 {
            // More than the hint (multi-member gzip, or a file that grew): read on.
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try fill($0) }
                if n == 0 { break }
                bytes.append(contentsOf: chunk[0 ..< n])
            }
        }

        var code: Int32 = 0
        _ = gzerror(gz, &code)
        if code != Z_OK { throw streamError(after: bytes.count) }
        closed = true
        let status = gzclose(gz)
        if status == Z_BUF_ERROR {
            throw DataError("\(path): gzip stream is truncated (unexpected end of file after \(bytes.count) bytes of decompressed data)")
        }
        if status != Z_OK {
            throw DataError("\(path): error closing file (zlib status \(status))")
        }
        return FileBytes(path: path, bytes: bytes, isGzip: isGzip)
    }

    /// The file called `name` in `directory`, or else `name.gz`: the
    /// uncompressed file is preferred when both exist. When neither is a
    /// regular file but one exists (a directory, a FIFO, ...), the error says
    /// what that one is rather than calling the file missing.
    public static func locate(_ name: String, in directory: URL) throws -> URL {
        let plain = directory.appendingPathComponent(name)
        let gzip = directory.appendingPathComponent(name + ".gz")
        var unusable: RegularFile.ReadError? = nil
        for candidate in [plain, gzip] {
            do {
                try RegularFile.check(candidate.path)
                return candidate
            } catch let e as RegularFile.ReadError {
                if e.code != ENOENT { unusable = unusable ?? e }
            }
        }
        if let unusable { throw DataError(unusable.description) }
        throw DataError("\(directory.path): missing file \(name): neither \(plain.path) nor \(gzip.path) exists")
    }

    /// zlib's message without the `"<fd:N>: "` prefix that `gzdopen` files carry.
    private static func zlibMessage(_ raw: UnsafePointer<CChar>?) -> String {
        guard let raw else { return "unknown zlib error" }
        let text = String(cString: raw)
        if text.hasPrefix("<fd:"), let colon = text.range(of: ": ") {
            return String(text[colon.upperBound...])
        }
        return text
    }
}
