import ArgumentParser
import PTrain
import PTrainRuntime
import PTrainTopology

struct TopoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topo",
        abstract: "Print the cores, PUs, caches and NUMA nodes this process may use (hwloc), and the default worker placement and memory nodes; or those of a simulated machine (--synthetic, --xml) under simulated limits (--cpuset, --cpu-quota).")

    @Option(help: "Simulate an hwloc synthetic topology instead of this machine, e.g. \"pack:2 numa:2 core:16 pu:2\".")
    var synthetic: String?

    @Option(help: "Simulate the machine of an hwloc XML export (lstopo FILE.xml) instead of this one.")
    var xml: String?

    @Option(help: "Restrict the allowed PUs to these OS PU numbers, as taskset -c would, e.g. 0-7,16-23.")
    var cpuset: String?

    @Option(help: "Apply this CPU quota (CPUs, e.g. 3.5) instead of this process's own (cgroup cpu.max, Slurm).")
    var cpuQuota: Double?

    func validate() throws {
        if synthetic != nil && xml != nil { throw ValidationError("--synthetic and --xml: give one simulated machine, not both") }
        if let cpuQuota, !(cpuQuota > 0 && cpuQuota.isFinite) {
            throw ValidationError("--cpu-quota: expected a positive number of CPUs such as 3.5, found \(cpuQuota)")
        }
    }

    func run() throws {
        try reportingErrors {
            let source: TopologySource = synthetic.map { .synthetic($0) } ?? xml.map { .xml(path: $0) } ?? .thisMachine
            let topology: CPUTopology
            do {
                let pus = try cpuset.map { try parseIndexList($0, option: "--cpuset") }
                topology = try CPUTopology(source: source, cpuset: pus)
            } catch let e as TopologyError { throw RunError(e.description) }
            // A simulated machine has no quota of its own; this process's would not apply to it.
            let quota = cpuQuota.map { CPUQuota.Reading(quota: TopologyReport.simulatedQuota($0)) }
                ?? (source == .thisMachine ? CPUQuota.read() : CPUQuota.Reading(quota: nil))
            say(try TopologyReport.text(topology: topology, quota: quota))
            if source == .thisMachine { say(TopologyReport.bf16Line()) }
        }
    }
}
