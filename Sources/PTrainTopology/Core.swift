/// One physical core this process may run on.
///
/// Two numbering schemes meet here: `index` is ptrain's (dense, 0-based, what
/// `--bind core` and "core N" in messages mean); `osIndex` and `pus` are the
/// kernel's (what `taskset`, `top` and `/proc/cpuinfo` show).
public struct Core: Sendable, Hashable {
    /// Position among the allowed cores, in hwloc's logical (topology) order.
    public var index: Int
    /// Linux core id (sysfs `topology/core_id`). Unique only within a package,
    /// and may have gaps; informational, never used for binding.
    public var osIndex: Int
    /// OS indices of this core's PUs (hardware threads) that the process may
    /// use, ascending. Binding pins to exactly these.
    public var pus: [Int]
    /// OS index of the package (socket) holding the core.
    public var package: Int
    /// OS index of the NUMA node whose memory is local to this core; nil when
    /// hwloc reports no node covering it.
    public var numaNode: Int?

    public init(index: Int, osIndex: Int, pus: [Int], package: Int, numaNode: Int?) {
        self.index = index
        self.osIndex = osIndex
        self.pus = pus
        self.package = package
        self.numaNode = numaNode
    }
}
