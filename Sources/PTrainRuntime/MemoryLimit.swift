import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The memory this process may use, in bytes, and which limit that is: the
/// smallest of the address-space limit (`ulimit -v`, RLIMIT_AS), the memory
/// cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`) and the
/// physical memory. A limit whose file is absent or unreadable is no limit.
public struct MemoryLimit: Sendable, Equatable {
    public let bytes: Int
    /// How the limit is named in messages, e.g. `address-space limit, ulimit -v`.
    public let source: String

    public init(bytes: Int, source: String) { self.bytes = bytes; self.source = source }

    /// The smallest of the limits present (nil when none is).
    public static func smallest(_ limits: [MemoryLimit?]) -> MemoryLimit? {
        limits.compactMap { $0 }.min { $0.bytes < $1.bytes }
    }

    /// A cgroup limit file's text: a byte count, or `max` (v2: no limit).
    /// Nil for an absent file, `max`, or anything else. (v1 writes "no
    /// limit" as a huge count, which physical memory then undercuts.)
    public static func parseCgroupLimit(_ text: String?) -> Int? {
        guard let text else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)).flatMap { $0 > 0 ? $0 : nil }
    }

    /// The process's memory cgroup directories from `/proc/self/cgroup`:
    /// v2 (`0::PATH`) and v1 (`N:...memory...:PATH`), relative to the mount.
    public static func cgroupPaths(_ text: String?) -> (v2: String?, v1: String?) {
        var v2: String? = nil, v1: String? = nil
        for line in (text ?? "").split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty { v2 = String(fields[2]) }
            if fields[1].split(separator: ",").contains("memory") { v1 = String(fields[2]) }
        }
        return (v2, v1)
    }

    /// The cgroup limit, given the contents of `/proc/self/cgroup` and a file
    /// reader: the process's own cgroup's file, else the mount's root (inside
    /// a container the namespace root is the container's cgroup).
    public static func cgroup(procSelfCgroup: String?, read: (String) -> String?) -> MemoryLimit? {
        let paths = cgroupPaths(procSelfCgroup)
        let candidates = [
            (paths.v2.map { "/sys/fs/cgroup\($0)/memory.max" }, "cgroup memory.max"),
            ("/sys/fs/cgroup/memory.max", "cgroup memory.max"),
            (paths.v1.map { "/sys/fs/cgroup/memory\($0)/memory.limit_in_bytes" }, "cgroup memory.limit_in_bytes"),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "cgroup memory.limit_in_bytes"),
        ]
        return smallest(candidates.map { file, source in
            file.flatMap { parseCgroupLimit(read($0)) }.map { MemoryLimit(bytes: $0, source: source) }
        })
    }

    /// RLIMIT_AS (the soft limit, what `ulimit -v` sets), or nil when unlimited.
    public static func addressSpace() -> MemoryLimit? {
        var limit = rlimit()
        #if canImport(Glibc)
        let status = getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        #else
        let status = getrlimit(RLIMIT_AS, &limit)
        #endif
        // RLIM_INFINITY is all ones (Linux) or Int64.max (Darwin): either way not below Int.max.
        guard status == 0, limit.rlim_cur < rlim_t(Int.max) else { return nil }
        return MemoryLimit(bytes: Int(limit.rlim_cur), source: "address-space limit, ulimit -v")
    }

    /// Physical memory (pages x page size).
    public static func physical() -> MemoryLimit? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return nil }
        return MemoryLimit(bytes: pages * size, source: "physical memory")
    }

    /// This process's limit now.
    public static func current() -> MemoryLimit? {
        let read = { (path: String) in try? String(contentsOfFile: path, encoding: .utf8) }
        return smallest([addressSpace(), cgroup(procSelfCgroup: read("/proc/self/cgroup"), read: read), physical()])
    }
}
