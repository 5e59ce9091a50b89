import CHwloc
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUTopology {
    /// Pins the calling thread to `core.pus`, strictly (the kernel will not run
    /// it on any other PU). Only for threads we own, such as persistent
    /// `Thread` workers: a Dispatch or cooperative-pool thread would stay
    /// pinned after our work item ends.
    ///
    /// Throws `TopologyError` naming the core, its OS PUs and the system's
    /// reason, e.g. "cannot bind worker thread to core 3 (OS PU 3): Invalid argument".
    public func bindCurrentThread(toCore core: Core) throws {
        let pus = core.pus.isEmpty ? "PUs: none" : formatPUs(core.pus)
        let target = "cannot bind worker thread to core \(core.index) (OS \(pus))"
        guard let handle else {
            throw TopologyError("\(target): no hardware topology behind this CPUTopology (built from explicit values)")
        }
        guard source == .thisMachine else {
            throw TopologyError("\(target): this CPUTopology is \(source.name), not this machine")
        }
        // hwloc would reject an empty set with EINVAL too; a negative index
        // would trap converting to the C `unsigned`, so refuse both here alike.
        guard !core.pus.isEmpty, core.pus.allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) }) else {
            throw TopologyError("\(target): \(systemReason(EINVAL))")
        }
        let set = try HwlocBitmap(indices: core.pus)
        // Read errno before anything else can run: keep `set` alive so its
        // deinit (free) cannot slip in between the call and the read.
        let failure: Int32? = withExtendedLifetime(set) {
            hwloc_set_cpubind(handle, set.raw, CHwloc_bind_thread_strict_flags()) == 0 ? nil : errno
        }
        if let failure { throw TopologyError("\(target): \(systemReason(failure))") }
    }

    /// OS index of the PU the calling thread is running on at this instant
    /// (`sched_getcpu`), or -1 if the system cannot tell.
    public static func currentPU() -> Int { Int(CHwloc_current_pu()) }
}
