import Foundation
import PTrain
import PTrainTopology

/// How many workers a run uses and where each runs, from `runtime.workers`
/// and `runtime.bind` and the cores this process may use (hwloc, restricted to
/// its cpuset: cgroups, taskset, Slurm). Workers default to one per allowed
/// physical core.
public struct WorkerPlacement: @unchecked Sendable, CustomStringConvertible {
    public let topology: CPUTopology
    public let placements: [Placement]
    public var workers: Int { placements.count }

    public static func plan(_ runtime: RuntimeConfig, topology: CPUTopology? = nil) throws -> WorkerPlacement {
        do {
            let topology = try topology ?? CPUTopology()
            let bind: BindMode = switch runtime.bind { case .core: .core; case .none: .none }
            let placements = try topology.plan(workers: runtime.workers ?? max(topology.cores.count, 1), bind: bind)
            return WorkerPlacement(topology: topology, placements: placements)
        } catch let e as TopologyError {
            throw RunError(e.description)
        }
    }

    /// Pins the calling thread (worker w's own) to its core; a failure is an
    /// error (use `--bind none` to run unpinned).
    public var bindCurrentThread: @Sendable (Int) throws -> Void {
        let topology = self.topology, placements = self.placements
        return { w in
            guard let core = placements[w].core else { return }
            do { try topology.bindCurrentThread(toCore: core) } catch let e as TopologyError { throw RunError(e.description) }
        }
    }

    /// "worker 0 -> core 0 (PU 0)" lines.
    public var description: String { topology.describe(placements) }
}
