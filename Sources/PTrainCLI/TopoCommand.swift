import ArgumentParser
import PTrain
import PTrainRuntime
import PTrainTopology

struct TopoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topo",
        abstract: "Print the cores, PUs, caches and NUMA nodes this process may use (hwloc), and the default worker placement.")

    func run() throws {
        try reportingErrors {
            let topology: CPUTopology
            do { topology = try CPUTopology() } catch let e as TopologyError { throw RunError(e.description) }
            say(topology.describe())
            let quota = CPUQuota.read()
            if let limit = quota.quota { say("CPU quota: \(limit.label) (\(limit.origin))") }
            // The same default as `ptrain train`: one worker per allowed core, fewer under a quota.
            let (workers, why) = WorkerPlacement.defaultWorkers(explicit: nil, cores: topology.cores.count, quota: quota.quota)
            let placement = try topology.plan(workers: workers, bind: .core)
            say("default placement (one worker per allowed core, at most floor(CPU quota)):")
            for line in quota.warnings + (why.map { [$0] } ?? []) { say(line) }
            say(topology.describe(placement))
        }
    }
}
