import PTrainKernels
import PTrainTopology

/// What `ptrain topo` prints about a machine, real or simulated: its cores,
/// caches and NUMA nodes, the CPU quota that applies, and what a training run
/// would do there by default: how many workers (one per allowed core, at most
/// floor(quota)), which core each is pinned to, and which NUMA node holds
/// each worker's memory.
public enum TopologyReport {
    public static func text(topology: CPUTopology, quota: CPUQuota.Reading) throws -> String {
        var lines = [topology.describe()]
        if let limit = quota.quota { lines.append("CPU quota: \(limit.label) (\(limit.origin))") }
        // The same default as `ptrain train`.
        let (workers, why) = WorkerPlacement.defaultWorkers(explicit: nil, cores: topology.cores.count, quota: quota.quota)
        let placement = try topology.plan(workers: workers, bind: .core)
        lines.append("default placement (one worker per allowed core, at most floor(CPU quota)):")
        lines += quota.warnings + (why.map { [$0] } ?? [])
        lines.append(topology.describe(placement))
        lines.append(MemoryPlacement(placement).summary)
        return lines.joined(separator: "\n")
    }

    /// Whether this CPU runs `runtime.precision: bf16` (printed for this
    /// machine only: a simulated topology has no instruction set).
    public static func bf16Line(available: Bool = BF16Support.available) -> String {
        available ? "bf16: yes (AVX512_BF16)" : "bf16: no (this CPU lacks AVX512_BF16; runtime.precision: bf16 is refused)"
    }

    /// A quota given on the command line (`--cpu-quota 3.5`), to show the
    /// choices under a limit this process does not have.
    public static func simulatedQuota(_ cpus: Double) -> CPUQuota {
        CPUQuota(cpus: cpus, label: "simulated CPU quota \(formatCPUs(cpus)) CPUs", origin: "--cpu-quota")
    }
}
