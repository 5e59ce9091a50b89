import Foundation

/// Finding and reading the YAML files a config names (run configs, their
/// `base:` files, search files).
public enum ConfigFile {
    /// The file `reference` names from inside `file`: an absolute reference as
    /// it is (`~` expanded), a relative one from `file`'s folder. Standardized
    /// (`..` and `.` removed).
    public static func path(_ reference: String, from file: String) -> String {
        let expanded = (reference as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return URL(fileURLWithPath: expanded).standardized.path }
        return URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(expanded).standardized.path
    }

    /// The UTF-8 text of `path`. On failure `error` gets the reason (`no
    /// such file`, `is a FIFO (named pipe), not a regular file`, `not UTF-8
    /// text`, `Permission denied`) and words the error for its caller.
    public static func text(_ path: String, error: (String) -> ConfigError) throws -> String {
        let data: Data
        do { data = try RegularFile.read(path) } catch let e as RegularFile.ReadError {
            switch e.code {
            case 0: throw error(e.reason)
            case ENOENT: throw error("no such file")
            default: throw error(String(cString: strerror(e.code)))
            }
        }
        guard let text = String(data: data, encoding: .utf8) else { throw error("not UTF-8 text") }
        return text
    }
}
