import CHwloc

/// The cores, caches and NUMA nodes this process may use, read from hwloc once.
///
/// "Allowed" means: in hwloc's allowed cpuset (the cgroup / container cpuset)
/// AND in the process's CPU binding (`hwloc_get_cpubind(HWLOC_CPUBIND_PROCESS)`,
/// on Linux the union of all its threads' affinity masks, which is what
/// `taskset`, `numactl` and Slurm's `--cpu-bind` set). So `ptrain` under
/// `taskset -c 0` sees one core. Totals (`machineCoreCount`, `machinePUCount`)
/// count the whole machine, allowed or not.
///
/// Read the topology before pinning any thread: the process binding is the
/// union over threads, so it cannot shrink from one pinned worker, but it
/// would miss PUs that every thread has already been moved off.
public final class CPUTopology: @unchecked Sendable {
    // @unchecked: `handle` is a C pointer, so not Sendable by type. It is set in
    // init, destroyed in deinit, and in between used only for hwloc queries and
    // hwloc_set_cpubind, which hwloc documents as safe to call concurrently on a
    // topology that is not being modified. Every other property is an immutable value.
    /// The loaded hwloc topology; nil for a topology built from explicit values (tests).
    let handle: hwloc_topology_t?
    /// Where it was read from; only `.thisMachine` can pin threads (hwloc
    /// "binds" to a simulated machine's cores without error, doing nothing).
    let source: TopologySource

    /// hwloc's "CPUModel" info (e.g. "AMD EPYC 9R14 96-Core Processor"), nil if absent.
    public let model: String?
    /// Packages (sockets) in the machine.
    public let packageCount: Int
    /// Physical cores in the machine, allowed or not.
    public let machineCoreCount: Int
    /// PUs (hardware threads) in the machine, allowed or not.
    public let machinePUCount: Int
    /// Allowed physical cores, `cores[i].index == i`.
    public let cores: [Core]
    /// Data caches, one entry per level present, ascending level.
    public let caches: [Cache]
    /// Allowed NUMA nodes, ascending OS index.
    public let numaNodes: [NUMANode]

    /// PUs this process may run on (the sum over allowed cores).
    public var puCount: Int { cores.reduce(0) { $0 + $1.pus.count } }

    /// Reads this machine's topology restricted to what this process may use.
    /// Throws when hwloc cannot load a topology or finds no allowed PU.
    public convenience init() throws {
        try self.init(source: .thisMachine)
    }

    /// Reads `source` (this machine, or a simulated one: an hwloc synthetic
    /// description or XML export), its allowed PUs further restricted to the
    /// OS PUs `cpuset` when given (a simulated `taskset -c`). A simulated
    /// machine is only described and planned for: binding a thread to one
    /// of its cores fails.
    public convenience init(source: TopologySource, cpuset: [Int]? = nil) throws {
        let machine = try HwlocMachineReader.read(source, cpuset: cpuset)
        self.init(handle: machine.handle, source: source, model: machine.model, packageCount: machine.packageCount,
                  machineCoreCount: machine.machineCoreCount, machinePUCount: machine.machinePUCount,
                  cores: machine.cores, caches: machine.caches, numaNodes: machine.numaNodes)
    }

    /// A topology from explicit values, with no hwloc behind it: the test seam
    /// for describe/plan. `bindCurrentThread` on it throws.
    package convenience init(model: String?, packageCount: Int, machineCoreCount: Int, machinePUCount: Int,
                             cores: [Core], caches: [Cache], numaNodes: [NUMANode]) {
        self.init(handle: nil, source: .thisMachine, model: model, packageCount: packageCount, machineCoreCount: machineCoreCount,
                  machinePUCount: machinePUCount, cores: cores, caches: caches, numaNodes: numaNodes)
    }

    private init(handle: hwloc_topology_t?, source: TopologySource, model: String?, packageCount: Int, machineCoreCount: Int,
                 machinePUCount: Int, cores: [Core], caches: [Cache], numaNodes: [NUMANode]) {
        self.handle = handle
        self.source = source
        self.model = model
        self.packageCount = packageCount
        self.machineCoreCount = machineCoreCount
        self.machinePUCount = machinePUCount
        self.cores = cores
        self.caches = caches
        self.numaNodes = numaNodes
    }

    deinit {
        if let handle { hwloc_topology_destroy(handle) }
    }
}
