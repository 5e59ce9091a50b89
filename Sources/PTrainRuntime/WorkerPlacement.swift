import Foundation
import PTrain
import PTrainTopology

/// How many workers a run uses and where each runs, from `runtime.workers`
/// and `runtime.bind` and the cores this process may use (hwloc, restricted to
/// its cpuset: cgroups, taskset, Slurm). Workers default to one per allowed
/// physical core, or fewer when a CPU quota (`CPUQuota`: cgroup `cpu.max`,
/// `cpu.cfs_quota_us`, `SLURM_CPUS_PER_TASK`) pays for fewer; an explicit
/// `runtime.workers` wins over both.
public struct WorkerPlacement: @unchecked Sendable, CustomStringConvertible {
    public let topology: CPUTopology
    public let placements: [Placement]
    /// Lines said before the placement: why the worker count is what it is
    /// when a quota had a say, and any limit file that could not be used.
    public let notes: [String]
    public var workers: Int { placements.count }

    /// `quota` defaults to this process's (`CPUQuota.read()`); tests pass their own.
    public static func plan(_ runtime: RuntimeConfig, topology: CPUTopology? = nil,
                            quota: CPUQuota.Reading? = nil) throws -> WorkerPlacement {
        do {
            let topology = try topology ?? CPUTopology()
            let quota = quota ?? CPUQuota.read()
            let bind: BindMode = switch runtime.bind { case .core: .core; case .none: .none }
            let (workers, why) = defaultWorkers(explicit: runtime.workers, cores: topology.cores.count, quota: quota.quota)
            let placements = try topology.plan(workers: workers, bind: bind)
            return WorkerPlacement(topology: topology, placements: placements, notes: quota.warnings + (why.map { [$0] } ?? []))
        } catch let e as TopologyError {
            throw RunError(e.description)
        }
    }

    /// The worker count and, when a quota bears on it, the line that says so:
    /// "2 workers (cgroup cpu.max quota 2.5 CPUs limits the 8 allowed cores)".
    public static func defaultWorkers(explicit: Int?, cores: Int, quota: CPUQuota?) -> (Int, String?) {
        let allowed = max(cores, 1)
        if let explicit {
            guard let quota, explicit > quota.workers else { return (explicit, nil) }
            return (explicit, "\(counted(explicit, "worker")) (set explicitly; the \(quota.label) would give \(quota.workers))")
        }
        guard let quota, quota.workers < allowed else { return (allowed, nil) }
        return (quota.workers, "\(counted(quota.workers, "worker")) (\(quota.label) limits the \(counted(allowed, "allowed core")))")
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

    /// The notes, then "worker 0 -> core 0 (PU 0)" lines.
    public var description: String { (notes + [topology.describe(placements)]).joined(separator: "\n") }
}

/// "1 worker", "3 workers".
private func counted(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
