import Foundation
import Testing
import PTrain
import PTrainRuntime
import PTrainTopology

// CPU quotas from fake /proc and /sys/fs/cgroup trees built in a temporary
// directory (the reader's root), and what they do to the default worker count.

/// A fake root: `files` maps absolute paths (as the process would see them) to contents.
private func fakeRoot(_ files: [String: String]) throws -> String {
    let root = temporaryDirectory()
    for (path, text) in files {
        let url = root.appendingPathComponent(String(path.dropFirst()))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
    return root.path
}

private func readQuota(_ files: [String: String], environment: [String: String] = [:]) throws -> CPUQuota.Reading {
    let root = try fakeRoot(files)
    defer { try? FileManager.default.removeItem(atPath: root) }
    return CPUQuota.read(root: root, environment: environment)
}

/// 8 allowed cores, one PU each.
private func eightCores() -> CPUTopology {
    CPUTopology(model: "Test CPU", packageCount: 1, machineCoreCount: 8, machinePUCount: 8,
                cores: (0..<8).map { Core(index: $0, osIndex: $0, pus: [$0], package: 0, numaNode: 0) },
                caches: [], numaNodes: [NUMANode(index: 0, memoryBytes: 1 << 30)])
}

private let v2Self = ["/proc/self/cgroup": "0::/ci/job\n"]
private let v1Self = ["/proc/self/cgroup": "4:memory:/ci/job\n2:cpu,cpuacct:/ci/job\n0::/\n"]

@Suite("CPU quota: cgroup v2 and v1, Slurm, and the default worker count")
struct CPUQuotaTests {
    @Test func noLimitFilesOrMaxIsNoQuota() throws {
        #expect(try readQuota([:]) == CPUQuota.Reading(quota: nil))
        #expect(try readQuota(v2Self.merging(["/sys/fs/cgroup/ci/job/cpu.max": "max 100000\n",
                                              "/sys/fs/cgroup/ci/cpu.max": "max 100000\n"]) { a, _ in a })
                == CPUQuota.Reading(quota: nil))
        #expect(try readQuota(v1Self.merging(["/sys/fs/cgroup/cpu,cpuacct/ci/job/cpu.cfs_quota_us": "-1\n",
                                              "/sys/fs/cgroup/cpu,cpuacct/ci/job/cpu.cfs_period_us": "100000\n"]) { a, _ in a })
                == CPUQuota.Reading(quota: nil))
    }

    @Test func v2QuotaOfOwnCgroup() throws {
        let reading = try readQuota(v2Self.merging(["/sys/fs/cgroup/ci/job/cpu.max": "350000 100000\n"]) { a, _ in a })
        #expect(reading == CPUQuota.Reading(quota: CPUQuota(cpus: 3.5, label: "cgroup cpu.max quota 3.5 CPUs",
                                                            origin: "/sys/fs/cgroup/ci/job/cpu.max")))
        #expect(reading.quota?.workers == 3)
    }

    @Test func aParentsSmallerQuotaWins() throws {
        let reading = try readQuota(v2Self.merging([
            "/sys/fs/cgroup/ci/job/cpu.max": "400000 100000\n",
            "/sys/fs/cgroup/ci/cpu.max": "250000 100000\n",
            "/sys/fs/cgroup/cpu.max": "max 100000\n"]) { a, _ in a })
        #expect(reading.quota?.cpus == 2.5)
        #expect(reading.quota?.origin == "/sys/fs/cgroup/ci/cpu.max")
        #expect(reading.warnings.isEmpty)
    }

    @Test func v1QuotaOverPeriodAndParent() throws {
        let reading = try readQuota(v1Self.merging([
            "/sys/fs/cgroup/cpu,cpuacct/ci/job/cpu.cfs_quota_us": "150000\n",
            "/sys/fs/cgroup/cpu,cpuacct/ci/job/cpu.cfs_period_us": "50000\n",
            "/sys/fs/cgroup/cpu,cpuacct/ci/cpu.cfs_quota_us": "-1\n",
            "/sys/fs/cgroup/cpu,cpuacct/ci/cpu.cfs_period_us": "100000\n"]) { a, _ in a })
        #expect(reading == CPUQuota.Reading(quota: CPUQuota(cpus: 3, label: "cgroup cpu.cfs_quota_us quota 3 CPUs",
                                                            origin: "/sys/fs/cgroup/cpu,cpuacct/ci/job/cpu.cfs_quota_us")))
    }

    @Test func slurmCPUsPerTaskAndTheSmallestLimitWins() throws {
        #expect(try readQuota([:], environment: ["SLURM_CPUS_PER_TASK": "4"]).quota
                == CPUQuota(cpus: 4, label: "SLURM_CPUS_PER_TASK=4", origin: "SLURM_CPUS_PER_TASK"))
        let both = try readQuota(v2Self.merging(["/sys/fs/cgroup/ci/job/cpu.max": "600000 100000"]) { a, _ in a },
                                 environment: ["SLURM_CPUS_PER_TASK": "2"])
        #expect(both.quota?.label == "SLURM_CPUS_PER_TASK=2")
    }

    @Test(arguments: [
        ("/sys/fs/cgroup/ci/job/cpu.max", "lots 100000",
         "warning: /sys/fs/cgroup/ci/job/cpu.max: expected \"max PERIOD\" or \"QUOTA PERIOD\" (whole microseconds), got \"lots 100000\"; ignoring this CPU limit"),
        ("/sys/fs/cgroup/ci/job/cpu.max", "350000",
         "warning: /sys/fs/cgroup/ci/job/cpu.max: expected \"max PERIOD\" or \"QUOTA PERIOD\" (whole microseconds), got \"350000\"; ignoring this CPU limit"),
    ])
    func malformedV2FileIsNamedAndIgnored(file: String, text: String, message: String) throws {
        // The parent's valid quota still applies: only the bad file is ignored.
        let reading = try readQuota(v2Self.merging([file: text, "/sys/fs/cgroup/ci/cpu.max": "600000 100000"]) { a, _ in a })
        #expect(reading.warnings == [message])
        #expect(reading.quota?.cpus == 6)
    }

    @Test func malformedV1AndSlurmAreNamedAndIgnored() throws {
        let reading = try readQuota(v1Self.merging([
            "/sys/fs/cgroup/cpu,cpuacct/ci/job/cpu.cfs_quota_us": "200000\n",
            "/sys/fs/cgroup/cpu,cpuacct/ci/job/cpu.cfs_period_us": "often\n",
            "/sys/fs/cgroup/cpu,cpuacct/ci/cpu.cfs_quota_us": "-2\n"]) { a, _ in a },
                                    environment: ["SLURM_CPUS_PER_TASK": "two"])
        #expect(reading.quota == nil)
        #expect(reading.warnings == [
            "warning: /sys/fs/cgroup/cpu,cpuacct/ci/job/cpu.cfs_period_us: expected a whole number of microseconds, got \"often\"; ignoring this CPU limit",
            "warning: /sys/fs/cgroup/cpu,cpuacct/ci/cpu.cfs_quota_us: expected -1 or a whole number of microseconds, got \"-2\"; ignoring this CPU limit",
            "warning: SLURM_CPUS_PER_TASK: expected a whole number of CPUs, at least 1, got \"two\"; ignoring this CPU limit",
        ])
    }

    @Test func unreadableFileIsNamed() throws {
        // A directory where the file should be: exists, cannot be read as text (works as root too).
        let root = try fakeRoot(v2Self)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/sys/fs/cgroup/ci/job/cpu.max", withIntermediateDirectories: true)
        #expect(CPUQuota.read(root: root, environment: [:]).warnings
                == ["warning: /sys/fs/cgroup/ci/job/cpu.max: cannot be read; ignoring this CPU limit"])
    }

    @Test func roundingDownAtLeastOne() {
        #expect([0.3, 1, 1.99, 2.5, 3.5, 8].map { CPUQuota(cpus: $0, label: "", origin: "").workers } == [1, 1, 1, 2, 3, 8])
    }

    @Test func quotaLimitsDefaultWorkersAndSaysSo() throws {
        let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
        let quota = CPUQuota(cpus: 2.5, label: "cgroup cpu.max quota 2.5 CPUs", origin: "/sys/fs/cgroup/cpu.max")
        let placement = try WorkerPlacement.plan(config.runtime, topology: eightCores(),
                                                 quota: CPUQuota.Reading(quota: quota, warnings: ["warning: x"]))
        #expect(placement.workers == 2)
        #expect(placement.description == """
            warning: x
            2 workers (cgroup cpu.max quota 2.5 CPUs limits the 8 allowed cores)
            worker 0 -> core 0 (PU 0), memory on NUMA node 0
            worker 1 -> core 1 (PU 1), memory on NUMA node 0
            """)
        let slurm = CPUQuota(cpus: 4, label: "SLURM_CPUS_PER_TASK=4", origin: "SLURM_CPUS_PER_TASK")
        let underSlurm = try WorkerPlacement.plan(config.runtime, topology: eightCores(), quota: .init(quota: slurm))
        #expect(underSlurm.workers == 4)
        #expect(underSlurm.description.hasPrefix("4 workers (SLURM_CPUS_PER_TASK=4 limits the 8 allowed cores)\nworker 0"))
    }

    @Test func quotaAboveTheCoresChangesNothing() throws {
        let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
        let placement = try WorkerPlacement.plan(config.runtime, topology: eightCores(),
                                                 quota: .init(quota: CPUQuota(cpus: 12, label: "q", origin: "f")))
        #expect(placement.workers == 8 && placement.notes.isEmpty)
        #expect(try WorkerPlacement.plan(config.runtime, topology: eightCores(), quota: .init(quota: nil)).workers == 8)
    }

    @Test func explicitWorkersWinAndTheQuotaIsStillSaid() throws {
        let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["runtime.workers=5"])
        let quota = CPUQuota(cpus: 2.5, label: "cgroup cpu.max quota 2.5 CPUs", origin: "/sys/fs/cgroup/cpu.max")
        let placement = try WorkerPlacement.plan(config.runtime, topology: eightCores(), quota: .init(quota: quota))
        #expect(placement.workers == 5)
        #expect(placement.notes == ["5 workers (set explicitly; the cgroup cpu.max quota 2.5 CPUs would give 2)"])
        let fewer = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["runtime.workers=1"])
        #expect(try WorkerPlacement.plan(fewer.runtime, topology: eightCores(), quota: .init(quota: quota)).notes.isEmpty)
    }
}

/// Where this machine lets a test make a real cgroup with a CPU quota (root,
/// and a v1 `cpu` hierarchy or a v2 root delegating `cpu`), or nil.
private let realCgroupMount: (dir: String, v2: Bool)? = {
    guard getuid() == 0 else { return nil }
    let fm = FileManager.default
    if let control = try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.subtree_control", encoding: .utf8),
       control.split(whereSeparator: \.isWhitespace).contains("cpu"), fm.isWritableFile(atPath: "/sys/fs/cgroup") {
        return ("/sys/fs/cgroup", true)
    }
    if fm.fileExists(atPath: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), fm.isWritableFile(atPath: "/sys/fs/cgroup/cpu") {
        return ("/sys/fs/cgroup/cpu", false)
    }
    return nil
}()

@Test("the real reader sees a real cgroup's quota (a child process is moved into a new cgroup)",
      .enabled(if: realCgroupMount != nil, "needs root and a writable /sys/fs/cgroup with the cpu controller"))
func realCgroupQuota() throws {
    let mount = try #require(realCgroupMount)
    let dir = "\(mount.dir)/ptrain-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
    // A cgroup's files cannot be unlinked: rmdir removes it once it is empty.
    defer { rmdir(dir) }
    if mount.v2 {
        try "150000 100000".write(toFile: dir + "/cpu.max", atomically: false, encoding: .utf8)
    } else {
        try "100000".write(toFile: dir + "/cpu.cfs_period_us", atomically: false, encoding: .utf8)
        try "150000".write(toFile: dir + "/cpu.cfs_quota_us", atomically: false, encoding: .utf8)
    }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/bin/sleep")
    child.arguments = ["30"]
    try child.run()
    // SIGKILL: the child may inherit a mask that blocks SIGTERM (terminate() then waits out the sleep).
    defer { kill(child.processIdentifier, SIGKILL); child.waitUntilExit() }
    try "\(child.processIdentifier)".write(toFile: dir + "/cgroup.procs", atomically: false, encoding: .utf8)
    let reading = CPUQuota.read(environment: [:], pid: "\(child.processIdentifier)")
    #expect(reading.quota?.cpus == 1.5)
    #expect(reading.quota?.workers == 1)
}
