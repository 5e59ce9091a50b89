import Synchronization

/// Disjoint groups of cores for concurrent trials of a search: the allowed
/// cores in topology order cut into consecutive groups of `coresPerGroup`
/// (consecutive cores share caches and NUMA nodes where the machine has them);
/// cores left over are not used. A pool hands groups out and takes them back,
/// so no core is ever given to two trials at once.
public final class CoreGroups: Sendable {
    public let groups: [[Core]]
    /// `free[g]`: group g is not lent out.
    private let free: Mutex<[Bool]>

    /// `coresPerGroup` between 1 and `cores.count` (else an error naming both).
    public init(cores: [Core], coresPerGroup: Int) throws {
        guard coresPerGroup >= 1 else { throw TopologyError("cores per trial must be at least 1 (got \(coresPerGroup))") }
        guard coresPerGroup <= cores.count else {
            throw TopologyError("a trial needs \(coresPerGroup) cores, but this process may use \(cores.count) (\(formatIndexList(cores.map(\.index))))")
        }
        let count = cores.count / coresPerGroup
        groups = (0..<count).map { g in Array(cores[(g * coresPerGroup)..<((g + 1) * coresPerGroup)]) }
        free = Mutex([Bool](repeating: true, count: count))
    }

    /// Takes a free group (the lowest-numbered), or nil when all are lent out.
    public func acquire() -> Int? {
        free.withLock { free in
            guard let g = free.firstIndex(of: true) else { return nil }
            free[g] = false
            return g
        }
    }

    /// Returns group `g` (it must be lent out).
    public func release(_ g: Int) {
        free.withLock { free in
            precondition(!free[g], "group \(g) released twice")
            free[g] = true
        }
    }

    /// "group 1: cores 2-3": the placement line printed for a trial.
    public func describe(_ g: Int) -> String {
        "group \(g): core\(groups[g].count == 1 ? "" : "s") \(formatIndexList(groups[g].map(\.index)))"
    }
}
