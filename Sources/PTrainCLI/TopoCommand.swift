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
            let placement = try topology.plan(workers: max(topology.cores.count, 1), bind: .core)
            say("default placement (one worker per allowed core):")
            say(topology.describe(placement))
        }
    }
}
