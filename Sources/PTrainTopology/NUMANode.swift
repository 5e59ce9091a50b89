/// One NUMA node (a memory domain) this process may allocate from.
public struct NUMANode: Sendable, Hashable {
    /// OS index, as `numactl` and `/sys/devices/system/node/nodeN` number it.
    public var index: Int
    /// Memory local to this node, in bytes.
    public var memoryBytes: Int

    public init(index: Int, memoryBytes: Int) {
        self.index = index
        self.memoryBytes = memoryBytes
    }
}
