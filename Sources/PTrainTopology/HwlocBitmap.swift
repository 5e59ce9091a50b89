import CHwloc

/// An owned hwloc bitmap (a set of OS PU or NUMA-node indices), freed on deinit.
/// Used only inside one call, never shared between threads.
final class HwlocBitmap {
    let raw: hwloc_bitmap_t

    /// A copy of `source`, or an empty set when `source` is nil.
    init(copying source: hwloc_const_bitmap_t? = nil) throws {
        guard let raw = source.map({ hwloc_bitmap_dup($0) }) ?? hwloc_bitmap_alloc() else {
            throw TopologyError("hwloc: out of memory allocating a CPU set")
        }
        self.raw = raw
    }

    /// The set holding exactly `indices` (all must be >= 0).
    convenience init(indices: [Int]) throws {
        try self.init()
        for i in indices { hwloc_bitmap_set(raw, UInt32(i)) }
    }

    deinit { hwloc_bitmap_free(raw) }

    /// Members, ascending.
    var indices: [Int] { HwlocBitmap.indices(of: raw) }

    /// Members of any hwloc set, ascending. (The hwloc_bitmap_foreach macros do
    /// not import into Swift; first/next is the same walk.)
    static func indices(of set: hwloc_const_bitmap_t) -> [Int] {
        var result: [Int] = []
        var i = hwloc_bitmap_first(set)
        while i >= 0 {
            result.append(Int(i))
            i = hwloc_bitmap_next(set, i)
        }
        return result
    }
}
