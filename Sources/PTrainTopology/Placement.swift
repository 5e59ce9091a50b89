/// How training workers are pinned: `core` gives worker w its own allowed
/// core w; `none` leaves placement to the kernel scheduler.
public enum BindMode: String, Sendable, CaseIterable {
    case core
    case none
}

/// Where one worker runs: a core, or nil for unbound.
public struct Placement: Sendable, Hashable {
    public var worker: Int
    public var core: Core?

    public init(worker: Int, core: Core?) {
        self.worker = worker
        self.core = core
    }
}

extension CPUTopology {
    /// Assigns `workers` workers to this process's allowed cores; see the static form.
    public func plan(workers: Int, bind: BindMode) throws -> [Placement] {
        try CPUTopology.plan(workers: workers, bind: bind, cores: cores)
    }

    /// With `.core`, worker w goes to `cores[w]` (one worker per physical core:
    /// SMT siblings share the FMA units, so a second worker on a core adds
    /// contention, not FLOPs). More workers than cores is an error rather than
    /// a silent wrap-around. With `.none`, every worker is unbound.
    public static func plan(workers: Int, bind: BindMode, cores: [Core]) throws -> [Placement] {
        guard workers >= 1 else { throw TopologyError("--workers must be at least 1 (got \(workers))") }
        switch bind {
        case .none:
            return (0..<workers).map { Placement(worker: $0, core: nil) }
        case .core:
            guard workers <= cores.count else {
                let usable = cores.count == 1 ? "core" : "cores"
                throw TopologyError(
                    "--workers \(workers) with --bind core needs \(workers) cores, but this process may use "
                    + "\(cores.count) (\(usable) \(formatIndexList(cores.map(\.index)))); "
                    + "use --bind none to run more workers than cores")
            }
            return (0..<workers).map { Placement(worker: $0, core: cores[$0]) }
        }
    }

    /// The "worker -> core" lines printed when a run starts, one per worker,
    /// with the NUMA node its memory goes to (`MemoryPlacement`):
    /// "worker 0 -> core 0 (PU 0), memory on NUMA node 0",
    /// "worker 2 -> unbound, memory where the kernel first runs it".
    public func describe(_ placements: [Placement]) -> String {
        placements.map { placement in
            guard let core = placement.core else {
                return "worker \(placement.worker) -> unbound, memory where the kernel first runs it"
            }
            let node = MemoryPlacement.node(placement).map { "NUMA node \($0)" } ?? "no NUMA node"
            return "worker \(placement.worker) -> core \(core.index) (\(formatPUs(core.pus))), memory on \(node)"
        }.joined(separator: "\n")
    }
}
