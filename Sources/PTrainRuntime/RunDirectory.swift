import Foundation
import PTrain

/// The directory a run writes: the resolved config, `metrics.jsonl`, and
/// `checkpoints/`. A directory that already holds a run is never overwritten.
public struct RunDirectory: Sendable {
    public let url: URL

    /// `explicit` when given (must not already hold a run), else the first of
    /// `runs/NAME`, `runs/NAME-2`, ... that does not exist yet.
    public static func create(explicit: String?, name: String) throws -> RunDirectory {
        let fm = FileManager.default
        var url: URL
        if let explicit {
            url = URL(fileURLWithPath: explicit)
            if fm.fileExists(atPath: url.appendingPathComponent("metrics.jsonl").path) {
                throw RunError("\(explicit): already holds a run (metrics.jsonl exists); choose another --out")
            }
        } else {
            url = URL(fileURLWithPath: "runs").appendingPathComponent(name)
            var n = 2
            while fm.fileExists(atPath: url.path) {
                url = URL(fileURLWithPath: "runs").appendingPathComponent("\(name)-\(n)")
                n += 1
            }
        }
        do {
            try fm.createDirectory(at: url.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
        } catch {
            throw RunError("\(url.path): cannot create the run directory (\(error.localizedDescription))")
        }
        return RunDirectory(url: url)
    }

    /// An existing run directory (resume): metrics are appended to it.
    public static func existing(_ url: URL) throws -> RunDirectory {
        try FileManager.default.createDirectory(at: url.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
        return RunDirectory(url: url)
    }

    public var metrics: URL { url.appendingPathComponent("metrics.jsonl") }
    public var config: URL { url.appendingPathComponent("config.yaml") }
    public var checkpoints: URL { url.appendingPathComponent("checkpoints") }
    /// What `train.init_from` loaded and did not (`MatchingWeights`).
    public var initFrom: URL { url.appendingPathComponent("init_from.json") }
}
