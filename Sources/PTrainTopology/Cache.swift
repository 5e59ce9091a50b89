/// One level of the data-cache hierarchy, as seen from the allowed cores.
///
/// Describes one instance of the level (the first that serves an allowed
/// core); blocking decisions want per-instance size and how many PUs compete
/// for it, not the machine-wide total that `lscpu` prints.
public struct Cache: Sendable, Hashable {
    /// 1 for L1d, 2 for L2, 3 for L3. Instruction caches are not reported.
    public var level: Int
    /// Capacity of one instance, in bytes.
    public var sizeBytes: Int
    /// Cache line size, in bytes.
    public var lineBytes: Int
    /// Number of PUs (hardware threads, allowed or not) that share one instance.
    public var sharedByPUs: Int

    public init(level: Int, sizeBytes: Int, lineBytes: Int, sharedByPUs: Int) {
        self.level = level
        self.sizeBytes = sizeBytes
        self.lineBytes = lineBytes
        self.sharedByPUs = sharedByPUs
    }

    /// "L1d", "L2", "L3": level 1 is always the data side here.
    public var name: String { level == 1 ? "L1d" : "L\(level)" }
}
