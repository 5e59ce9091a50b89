import Foundation
import PTrain

/// CPU time used by OTHER processes while we measure, from /proc/stat (all
/// CPUs' busy jiffies) minus /proc/self/stat (ours). A benchmark sample taken
/// while another process used a meaningful share of a core is marked noisy:
/// the machine is shared, and a ratio measured under contention misleads.
public struct SystemLoad: Sendable {
    /// Busy jiffies of the whole machine and of this process.
    let machineBusy: Double, selfBusy: Double, time: Double

    public static func sample() -> SystemLoad {
        SystemLoad(machineBusy: readMachineBusy(), selfBusy: readSelfBusy(), time: monotonicSeconds())
    }

    /// Average number of cores other processes kept busy between `self` and `later`.
    public func otherCores(until later: SystemLoad) -> Double {
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        let seconds = later.time - time
        guard seconds > 0, hz > 0 else { return 0 }
        return max(0, ((later.machineBusy - machineBusy) - (later.selfBusy - selfBusy)) / hz / seconds)
    }

    /// Sum of user, nice, system, irq, softirq and steal jiffies on the `cpu` line.
    private static func readMachineBusy() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
        let f = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard f.count >= 8 else { return 0 }
        return f[0] + f[1] + f[2] + f[5] + f[6] + f[7]
    }

    /// utime + stime of this process (fields 14 and 15 of /proc/self/stat).
    private static func readSelfBusy() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let f = text[text.index(after: close)...].split(separator: " ")
        // After the ")" the fields start at field 3 (state); utime is field 14.
        guard f.count > 12, let u = Double(f[11]), let s = Double(f[12]) else { return 0 }
        return u + s
    }
}
