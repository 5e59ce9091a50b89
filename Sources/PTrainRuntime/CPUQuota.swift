import Foundation

/// The CPU time this process may use, in CPUs, and which limit that is: the
/// smallest of the cgroup v2 `cpu.max` quotas of its cgroup and every parent
/// (a parent's limit applies to its children too), the cgroup v1
/// `cpu.cfs_quota_us` / `cpu.cfs_period_us` quotas of the same chain, and
/// Slurm's `SLURM_CPUS_PER_TASK`. A cpuset (which cores) is hwloc's concern;
/// a quota (how much time on them) is not visible there, so without this a
/// container with 8 cores but 3.5 CPUs of quota would get 8 throttled workers.
public struct CPUQuota: Sendable, Equatable {
    /// CPUs of time per period: 3.5 for `350000 100000`.
    public let cpus: Double
    /// How the limit is named where it is said, e.g.
    /// `cgroup cpu.max quota 3.5 CPUs` or `SLURM_CPUS_PER_TASK=4`.
    public let label: String
    /// The file (or environment variable) the limit came from.
    public let origin: String

    public init(cpus: Double, label: String, origin: String) {
        self.cpus = cpus; self.label = label; self.origin = origin
    }

    /// Workers this quota pays for: floor(cpus), at least 1. Rounding down
    /// because a worker beyond the quota is throttled, and with synchronous
    /// steps every worker then waits for the throttled one (3.5 CPUs -> 3).
    public var workers: Int { max(1, Int(cpus.rounded(.down))) }

    /// What was found: the smallest limit (nil when none applies) and one
    /// message per limit file that could not be used; such a file counts as
    /// no limit, and the message says so (it is printed at start).
    public struct Reading: Sendable, Equatable {
        public let quota: CPUQuota?
        public let warnings: [String]
        public init(quota: CPUQuota?, warnings: [String] = []) { self.quota = quota; self.warnings = warnings }
    }

    /// This process's quota. `root` stands for `/` (tests put a fake
    /// `proc/self/cgroup` and `sys/fs/cgroup` tree there), `environment` for
    /// the process environment, and `pid` selects `/proc/PID/cgroup`.
    public static func read(root: String = "/", environment: [String: String] = ProcessInfo.processInfo.environment,
                            pid: String = "self") -> Reading {
        let files = LimitFiles(root: root)
        var found: [CPUQuota] = [], warnings: [String] = []
        func use(_ limit: () throws(QuotaProblem) -> CPUQuota?) {
            do { if let quota = try limit() { found.append(quota) } } catch { warnings.append(error.message) }
        }
        let cgroups = cgroupPaths(files.text("/proc/\(pid)/cgroup") ?? "")
        if let v2 = cgroups.v2 {
            for dir in chain("/sys/fs/cgroup", v2) { use { () throws(QuotaProblem) in try cgroupV2(dir: dir, files: files) } }
        }
        if let v1 = cgroups.v1 {
            // Combined hierarchies mount as e.g. `cpu,cpuacct` (with a `cpu` symlink on most systems).
            let named = "/sys/fs/cgroup/\(v1.controllers)"
            let mount = files.exists(named) ? named : "/sys/fs/cgroup/cpu"
            for dir in chain(mount, v1.path) { use { () throws(QuotaProblem) in try cgroupV1(dir: dir, files: files) } }
        }
        use { () throws(QuotaProblem) in try slurm(environment) }
        return Reading(quota: found.min { $0.cpus < $1.cpus }, warnings: warnings)
    }

    /// `0::/a/b` (v2) and `N:...cpu...:/a/b` (v1, controllers comma-separated).
    static func cgroupPaths(_ text: String) -> (v2: String?, v1: (controllers: String, path: String)?) {
        var v2: String? = nil, v1: (String, String)? = nil
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty { v2 = String(fields[2]) }
            if fields[1].split(separator: ",").contains("cpu") { v1 = (String(fields[1]), String(fields[2])) }
        }
        return (v2, v1)
    }

    /// The directory of cgroup `path` under `mount` and each parent up to the
    /// mount itself (inside a container that is the container's own cgroup).
    static func chain(_ mount: String, _ path: String) -> [String] {
        var parts = path.split(separator: "/").map(String.init)
        var dirs: [String] = []
        while true {
            dirs.append(([mount] + parts).joined(separator: "/"))
            if parts.isEmpty { return dirs }
            parts.removeLast()
        }
    }

    /// `cpu.max`: `max PERIOD` (no limit) or `QUOTA PERIOD`, in microseconds.
    static func cgroupV2(dir: String, files: LimitFiles) throws(QuotaProblem) -> CPUQuota? {
        let file = "\(dir)/cpu.max"
        guard let text = try files.content(file) else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        let fallback = "expected \"max PERIOD\" or \"QUOTA PERIOD\" (whole microseconds)"
        guard fields.count == 2, let period = Int(fields[1]), period > 0 else {
            throw QuotaProblem(file: file, problem: "\(fallback), got \(quoted(text))")
        }
        if fields[0] == "max" { return nil }
        guard let quota = Int(fields[0]), quota > 0 else {
            throw QuotaProblem(file: file, problem: "\(fallback), got \(quoted(text))")
        }
        let cpus = Double(quota) / Double(period)
        return CPUQuota(cpus: cpus, label: "cgroup cpu.max quota \(formatCPUs(cpus)) CPUs", origin: file)
    }

    /// `cpu.cfs_quota_us` (-1: no limit) over `cpu.cfs_period_us`.
    static func cgroupV1(dir: String, files: LimitFiles) throws(QuotaProblem) -> CPUQuota? {
        let quotaFile = "\(dir)/cpu.cfs_quota_us", periodFile = "\(dir)/cpu.cfs_period_us"
        guard let quotaText = try files.content(quotaFile) else { return nil }
        let trimmed = quotaText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let quota = Int(trimmed), quota == -1 || quota > 0 else {
            throw QuotaProblem(file: quotaFile,
                               problem: "expected -1 or a whole number of microseconds, got \(quoted(quotaText))")
        }
        if quota == -1 { return nil }
        guard let periodText = try files.content(periodFile) else {
            throw QuotaProblem(file: periodFile, problem: "missing, but \(quotaFile) sets a quota")
        }
        guard let period = Int(periodText.trimmingCharacters(in: .whitespacesAndNewlines)), period > 0 else {
            throw QuotaProblem(file: periodFile,
                               problem: "expected a whole number of microseconds, got \(quoted(periodText))")
        }
        let cpus = Double(quota) / Double(period)
        return CPUQuota(cpus: cpus, label: "cgroup cpu.cfs_quota_us quota \(formatCPUs(cpus)) CPUs", origin: quotaFile)
    }

    /// `SLURM_CPUS_PER_TASK`: the CPUs Slurm granted each task (set with `--cpus-per-task`).
    static func slurm(_ environment: [String: String]) throws(QuotaProblem) -> CPUQuota? {
        guard let text = environment["SLURM_CPUS_PER_TASK"] else { return nil }
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= 1 else {
            throw QuotaProblem(file: "SLURM_CPUS_PER_TASK",
                               problem: "expected a whole number of CPUs, at least 1, got \(quoted(text))")
        }
        return CPUQuota(cpus: Double(n), label: "SLURM_CPUS_PER_TASK=\(n)", origin: "SLURM_CPUS_PER_TASK")
    }
}

/// A limit file (or variable) that could not be used, and the fallback.
struct QuotaProblem: Error, Equatable {
    let file: String, problem: String
    var message: String { "warning: \(file): \(problem); ignoring this CPU limit" }
}

/// File access under a root directory. An absent file is no limit; a file
/// that exists but cannot be read is a problem the caller reports.
struct LimitFiles {
    let root: String

    func path(_ absolute: String) -> String {
        root == "/" ? absolute : (root.hasSuffix("/") ? String(root.dropLast()) : root) + absolute
    }
    func exists(_ absolute: String) -> Bool { FileManager.default.fileExists(atPath: path(absolute)) }
    /// The text, or nil when the file is absent or unreadable.
    func text(_ absolute: String) -> String? { try? String(contentsOfFile: path(absolute), encoding: .utf8) }
    /// Like `text`, but a file that exists and cannot be read is a problem,
    /// not silently no limit.
    func content(_ absolute: String) throws(QuotaProblem) -> String? {
        guard exists(absolute) else { return nil }
        guard let text = text(absolute) else { throw QuotaProblem(file: absolute, problem: "cannot be read") }
        return text
    }
}

/// "3.5", "3", "3.333": enough digits to recognise the quota.
func formatCPUs(_ cpus: Double) -> String { String(format: "%.4g", cpus) }

private func quoted(_ text: String) -> String {
    "\"\(text.trimmingCharacters(in: .whitespacesAndNewlines))\""
}
