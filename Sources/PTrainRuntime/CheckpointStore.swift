import Foundation
import PTrain

/// The `checkpoints/` directory of a run: `step-00001234/` checkpoints (see
/// `Checkpoint`), `last.safetensors` (the newest weights) and
/// `best.safetensors` (the best weights by `checkpoint.best`). Keeps the
/// newest `keep` checkpoints and the best one; deletes the others.
public struct CheckpointStore: Sendable {
    public let directory: URL
    public let keep: Int
    /// `top1`, `loss` or `none`.
    public let best: CheckpointConfig.BestMetric

    public init(directory: URL, keep: Int, best: CheckpointConfig.BestMetric) {
        self.directory = directory; self.keep = keep; self.best = best
    }

    public static func name(step: Int) -> String { String(format: "step-%08d", step) }

    /// Whether `value` beats `current` under the `best` metric.
    public func improves(_ value: Double, on current: Double?) -> Bool {
        Self.improves(value, on: current, best: best)
    }

    /// Whether `value` beats `current` under `best` (`top1`, `loss` or `none`).
    /// A non-finite value (broken weights) never improves, and any finite
    /// value improves on a non-finite current (NaN compares false both ways,
    /// so the plain comparison alone would keep a NaN best forever).
    public static func improves(_ value: Double, on current: Double?, best: CheckpointConfig.BestMetric) -> Bool {
        guard value.isFinite else { return false }
        guard let current, current.isFinite else { return true }
        return best == .loss ? value < current : value > current
    }

    /// Writes `checkpoint`, refreshes `last.safetensors` (and
    /// `best.safetensors` when `isBest`), then prunes.
    @discardableResult
    public func save(_ checkpoint: Checkpoint, isBest: Bool) throws -> URL {
        let url = try checkpoint.write(in: directory, name: Self.name(step: checkpoint.state.step))
        let weights = Safetensors.encode(checkpoint.weights, metadata: ["format": "pt", "step": String(checkpoint.state.step)])
        try AtomicFile.write(weights, to: directory.appendingPathComponent("last.safetensors"))
        if isBest { try AtomicFile.write(weights, to: directory.appendingPathComponent("best.safetensors")) }
        prune(bestStep: isBest ? checkpoint.state.step : checkpoint.state.bestStep)
        return url
    }

    /// Steps of the checkpoints present, ascending.
    public func steps() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }.sorted()
    }

    private func prune(bestStep: Int?) {
        let all = steps()
        let kept = Set(all.suffix(keep)).union(bestStep.map { [$0] } ?? [])
        for step in all where !kept.contains(step) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(Self.name(step: step)))
        }
        for name in Self.abandonedWrites(in: directory) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// Temporary checkpoint directories (`.step-NNNNNNNN.tmp-PID`) left by a
    /// writer that was killed: those of another process ID than this one's
    /// (this process writes one at a time and has just finished). Over a long
    /// job killed many times they would otherwise fill the disk.
    static func abandonedWrites(in directory: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix(".step-") && Checkpoint.isTemporary($0) }.sorted()
    }

    /// The checkpoint to resume from for `path`: a checkpoint directory itself
    /// (it holds state.json), or a run directory / checkpoints directory, whose
    /// newest readable checkpoint is taken.
    public static func resolve(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        var info = stat()
        let exists = stat(path, &info) == 0
        guard exists, info.st_mode & S_IFMT == S_IFDIR else {
            throw RunError("--resume \(path): expected a run directory or a checkpoint directory (step-NNNNNNNN), found \(exists ? RegularFile.kind(of: info.st_mode) : "nothing")")
        }
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("state.json").path) { return url }
        for dir in [url.appendingPathComponent("checkpoints"), url] {
            let store = CheckpointStore(directory: dir, keep: 1, best: .none)
            if let step = store.steps().last { return dir.appendingPathComponent(name(step: step)) }
        }
        throw RunError("--resume \(path): no checkpoint found (expected checkpoints/step-NNNNNNNN/ inside a run directory)")
    }
}
