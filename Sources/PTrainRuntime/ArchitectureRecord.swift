import Foundation
import PTrain

/// One line of `RUN/architecture.jsonl`: softmax(alpha) of every
/// architecture tensor after an epoch (`Trainer` writes it for models with
/// `mixed` layers; DARTS searches chart and derive from it).
public struct ArchitectureRecord: Codable, Sendable, Equatable {
    public static let fileName = "architecture.jsonl"
    /// 1-based epoch just finished, and the optimizer steps so far.
    public let epoch: Int
    public let step: Int
    /// Tensor name -> softmax of its values (the mixture weights of its ops).
    public let softmax: [String: [Double]]

    public init(epoch: Int, step: Int, softmax: [String: [Double]]) {
        self.epoch = epoch; self.step = step; self.softmax = softmax
    }

    /// Appends `record` as one line and flushes it (a line survives a kill).
    static func append(_ record: ArchitectureRecord, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = String(decoding: try encoder.encode(record), as: UTF8.self) + "\n"
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw RunError("\(url.path): cannot create the file")
            }
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line.utf8))
        try handle.synchronize()
    }

    /// The records of `url`, the last one of each epoch, in epoch order.
    /// A line that is not a record is an error naming the file and line.
    public static func read(_ url: URL) throws -> [ArchitectureRecord] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw RunError("\(url.path): cannot read the architecture record (\(error.localizedDescription))")
        }
        var byEpoch: [Int: ArchitectureRecord] = [:]
        for (i, line) in text.split(separator: "\n").enumerated() {
            do {
                let r = try JSONDecoder().decode(ArchitectureRecord.self, from: Data(line.utf8))
                byEpoch[r.epoch] = r
            } catch {
                throw RunError("\(url.path):\(i + 1): not an architecture record (\(error))")
            }
        }
        return byEpoch.keys.sorted().map { byEpoch[$0]! }
    }
}
