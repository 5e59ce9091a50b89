import Foundation
import PTrain

/// `metrics.jsonl`: one JSON object per line, appended and flushed as events
/// happen, so a crash loses at most the line being written.
public final class MetricsLog {
    private let handle: FileHandle
    public let url: URL

    public init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw RunError("\(url.path): cannot create the metrics file")
            }
        }
        handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    /// Appends one event. Keys are written sorted, numbers as JSON numbers
    /// (non-finite values as null).
    public func write(_ fields: [String: MetricValue]) {
        let body = fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value.json)" }.joined(separator: ",")
        handle.write(Data(("{" + body + "}\n").utf8))
    }
}

/// A value in a metrics line.
public enum MetricValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    case string(String), int(Int), double(Double)
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }

    var json: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(format: "%.6g", d) : "null"
        case .string(let s):
            let escaped = s.unicodeScalars.map { c -> String in
                switch c {
                case "\"": return "\\\""
                case "\\": return "\\\\"
                case "\n": return "\\n"
                default: return c.value < 0x20 ? String(format: "\\u%04x", c.value) : String(c)
                }
            }.joined()
            return "\"\(escaped)\""
        }
    }
}
