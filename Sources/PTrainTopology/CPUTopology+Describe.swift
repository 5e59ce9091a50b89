extension CPUTopology {
    /// The text `ptrain topo` prints: a header line (model, packages, allowed
    /// cores and PUs out of the machine's, NUMA nodes with their memory), one
    /// line per data-cache level, then one line per allowed core. Example:
    ///
    ///     AMD EPYC: 1 package, 2 of 2 cores and 2 of 2 PUs allowed, 1 NUMA node (7.8 GiB)
    ///     L1d cache: 32 KiB per instance, 64 B lines, shared by 1 PU
    ///     core 0: PU 0 (package 0, NUMA node 0, OS core 0)
    public func describe() -> String {
        var lines: [String] = []
        let cpu = model ?? "unknown CPU model"
        lines.append("\(cpu): \(counted(packageCount, "package")), "
            + "\(cores.count) of \(machineCoreCount) cores and \(puCount) of \(machinePUCount) PUs allowed, "
            + describeNUMA())
        for cache in caches {
            lines.append("\(cache.name) cache: \(formatBytes(cache.sizeBytes)) per instance, "
                + "\(cache.lineBytes) B lines, shared by \(counted(cache.sharedByPUs, "PU"))")
        }
        for core in cores {
            let numa = core.numaNode.map { "NUMA node \($0)" } ?? "no NUMA node"
            lines.append("core \(core.index): \(formatPUs(core.pus)) "
                + "(package \(core.package), \(numa), OS core \(core.osIndex))")
        }
        return lines.joined(separator: "\n")
    }

    /// "1 NUMA node (7.8 GiB)", "2 NUMA nodes (0: 64 GiB, 1: 64 GiB)", "no NUMA node".
    private func describeNUMA() -> String {
        switch numaNodes.count {
        case 0: return "no NUMA node"
        case 1: return "1 NUMA node (\(formatBytes(numaNodes[0].memoryBytes)))"
        default:
            let memory = numaNodes.map { "\($0.index): \(formatBytes($0.memoryBytes))" }
            return "\(numaNodes.count) NUMA nodes (\(memory.joined(separator: ", ")))"
        }
    }
}

/// "1 package", "2 packages".
private func counted(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
