import Foundation

extension AtomicFile {
    /// Puts the complete directory `new` at `final`, atomically also when
    /// `final` already exists (a checkpoint rewritten at the same step): the
    /// two are swapped in one `renameat2(RENAME_EXCHANGE)` and the old one,
    /// now at `new`'s path, is deleted. Deleting `final` first and renaming
    /// after would leave a window in which a kill loses the only checkpoint
    /// (`checkpoint.keep: 1`). Where the kernel or libc lacks the call, falls
    /// back to that delete-then-rename.
    public static func moveDirectory(_ new: URL, to final: URL) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: final.path), let exchange = renameExchange {
            guard exchange(AT_FDCWD, new.path, AT_FDCWD, final.path, renameExchangeFlag) == 0 else {
                throw WriteError(description: "\(final.path): exchange with \(new.lastPathComponent) failed (\(String(cString: strerror(errno))))")
            }
            try? fm.removeItem(at: new)
            return
        }
        if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
        guard rename(new.path, final.path) == 0 else {
            throw WriteError(description: "\(final.path): rename failed (\(String(cString: strerror(errno))))")
        }
    }

    /// `RENAME_EXCHANGE` of <linux/fs.h>.
    private static let renameExchangeFlag: UInt32 = 1 << 1

    /// glibc's `renameat2`, looked up at run time (Swift's Glibc module does
    /// not import it); nil where it does not exist.
    private static let renameExchange: (@convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32).self)
    }()
}
