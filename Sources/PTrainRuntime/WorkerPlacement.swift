import Foundation
import PTrain

/// How many workers a run uses and where each one runs.
/// (Interim: until the hwloc topology lands, workers default to the number of
/// online CPUs and are not pinned.)
public struct WorkerPlacement: Sendable, CustomStringConvertible {
    public let workers: Int
    public let bind: String

    public static func plan(_ runtime: RuntimeConfig) throws -> WorkerPlacement {
        WorkerPlacement(workers: runtime.workers ?? ProcessInfo.processInfo.activeProcessorCount, bind: runtime.bind)
    }

    /// Runs on worker w's own thread before it does any work.
    public var bindCurrentThread: @Sendable (Int) throws -> Void { { _ in } }

    public var description: String {
        (0..<workers).map { "worker \($0) -> unbound" }.joined(separator: "\n")
    }
}
