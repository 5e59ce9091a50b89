import Foundation
import Testing
import PTrainTopology

// Machines ptrain does not run on, loaded from hwloc synthetic descriptions
// (and one XML export): the worker -> core placement and the NUMA node of
// each worker's memory must be what docs/platform.md promises there.

@Suite struct SyntheticTopologyTests {
    @Test func twoSocketsOf64CoresWithSMT() throws {
        let topology = try CPUTopology(source: .synthetic("pack:2 core:64 pu:2"))
        #expect(topology.packageCount == 2 && topology.cores.count == 128 && topology.puCount == 256)
        #expect(topology.model == "synthetic \"pack:2 core:64 pu:2\"")
        let placements = try topology.plan(workers: 128, bind: .core)
        // One worker per physical core, both SMT siblings in its set; package 0 first.
        #expect(placements.map { $0.core!.pus } == (0..<128).map { [2 * $0, 2 * $0 + 1] })
        #expect(placements.map { $0.core!.package } == (0..<128).map { $0 / 64 })
        // No NUMA level in the description: hwloc gives the machine one node, so all memory is on it.
        #expect(topology.numaNodes.count == 1 && MemoryPlacement(placements).nodes == Array(repeating: 0, count: 128))
        #expect(throws: TopologyError("--workers 129 with --bind core needs 129 cores, but this process may use 128 (cores 0-127); use --bind none to run more workers than cores")) {
            try topology.plan(workers: 129, bind: .core)
        }
    }

    @Test func twoSocketsWithANodeEachPutMemoryOnTheWorkersSocket() throws {
        let topology = try CPUTopology(source: .synthetic("pack:2 numa:1 core:64 pu:2"))
        let memory = MemoryPlacement(try topology.plan(workers: 128, bind: .core))
        #expect(memory.nodes == (0..<128).map { $0 / 64 })
        #expect(memory.workersPerNode.map(\.node) == [0, 1] && memory.workersPerNode.map(\.workers) == [Array(0..<64), Array(64..<128)])
        #expect(memory.summary == "memory: NUMA node 0: workers 0-63; NUMA node 1: workers 64-127 (each worker's arenas and its parameter slice, first touched after pinning)")
        // Fewer workers fill package 0 first: all their memory is on node 0.
        #expect(MemoryPlacement(try topology.plan(workers: 16, bind: .core)).nodes == Array(repeating: 0, count: 16))
    }

    @Test func moreNUMANodesThanSockets() throws {
        // Two packages of four NUMA nodes (sub-NUMA clustering) of eight cores.
        let topology = try CPUTopology(source: .synthetic("pack:2 numa:4 core:8 pu:1"))
        #expect(topology.packageCount == 2 && topology.numaNodes.map(\.index) == Array(0..<8))
        let placements = try topology.plan(workers: 64, bind: .core)
        #expect(MemoryPlacement(placements).nodes == (0..<64).map { $0 / 8 })
        #expect(placements.map { $0.core!.package } == (0..<64).map { $0 / 32 })
        #expect(topology.describe(Array(placements[7...8])) == """
            worker 7 -> core 7 (PU 7), memory on NUMA node 0
            worker 8 -> core 8 (PU 8), memory on NUMA node 1
            """)
    }

    @Test func cpusetThatSkipsCores() throws {
        // taskset -c 0-3,8-9,14 on one 8-core SMT package: cores 0, 1, 4 whole, core 7 by one PU.
        let topology = try CPUTopology(source: .synthetic("pack:1 numa:1 core:8 pu:2"), cpuset: [0, 1, 2, 3, 8, 9, 14])
        #expect(topology.cores.map(\.osIndex) == [0, 1, 4, 7])
        #expect(topology.cores.map(\.pus) == [[0, 1], [2, 3], [8, 9], [14]])
        #expect(topology.machineCoreCount == 8 && topology.puCount == 7)
        let placements = try topology.plan(workers: 4, bind: .core)
        #expect(placements.map { $0.core!.osIndex } == [0, 1, 4, 7])
        #expect(topology.describe(placements).split(separator: "\n").last == "worker 3 -> core 3 (PU 14), memory on NUMA node 0")
    }

    @Test func cpusetAcrossNodesPutsEachWorkersMemoryOnItsCoresNode() throws {
        // Two nodes of four cores; the cpuset leaves cores 2-3 of node 0 and 4-5 of node 1.
        let topology = try CPUTopology(source: .synthetic("pack:2 numa:1 core:4 pu:1"), cpuset: [2, 3, 4, 5])
        #expect(MemoryPlacement(try topology.plan(workers: 4, bind: .core)).nodes == [0, 0, 1, 1])
        #expect(MemoryPlacement(try topology.plan(workers: 3, bind: .none)).nodes == [nil, nil, nil])
    }

    @Test func xmlExportIsRead() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ptrain-topology-\(UUID().uuidString).xml")
        try twoPackageXML.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let topology = try CPUTopology(source: .xml(path: url.path))
        #expect(topology.model == "XML \(url.path): Test XML CPU")
        #expect(topology.numaNodes == [NUMANode(index: 0, memoryBytes: 1 << 30), NUMANode(index: 1, memoryBytes: 2 << 30)])
        #expect(MemoryPlacement(try topology.plan(workers: 4, bind: .core)).nodes == [0, 0, 1, 1])
    }

    @Test func badDescriptionNamesHwlocsFailure() {
        #expect(throws: TopologyError("--synthetic \"pack:x\": hwloc_topology_set_synthetic rejected it (Invalid argument); "
                                      + "expected levels such as \"pack:2 numa:2 core:16 pu:2\" (type:count per parent, root first)")) {
            try CPUTopology(source: .synthetic("pack:x"))
        }
    }

    @Test func missingXMLFileNamesIt() {
        #expect(throws: TopologyError("--xml /nonexistent/m.xml: hwloc_topology_set_xml cannot read it as a topology (No such file or directory); "
                                      + "expected an hwloc XML export such as `lstopo machine.xml` writes")) {
            try CPUTopology(source: .xml(path: "/nonexistent/m.xml"))
        }
    }

    @Test func cpusetOutsideTheMachineIsAnError() {
        #expect(throws: TopologyError("--cpuset: PU 9 is not in this topology (its PUs are 0-7)")) {
            try CPUTopology(source: .synthetic("pack:1 core:4 pu:2"), cpuset: [0, 9])
        }
    }

    @Test func simulatedMachineCannotPinThisThread() throws {
        let topology = try CPUTopology(source: .synthetic("pack:1 core:2 pu:1"))
        #expect(throws: TopologyError("cannot bind worker thread to core 0 (OS PU 0): this CPUTopology is synthetic topology \"pack:1 core:2 pu:1\", not this machine")) {
            try topology.bindCurrentThread(toCore: topology.cores[0])
        }
    }
}

@Suite struct IndexListTests {
    @Test func parsesWhatTasksetReads() throws {
        #expect(try parseIndexList("0-3,8,10-11,2", option: "--cpuset") == [0, 1, 2, 3, 8, 10, 11])
        #expect(formatIndexList(try parseIndexList("5,0-2", option: "--cpuset")) == "0-2,5")
    }

    @Test(arguments: ["", "3-1", "a", "1,,2", "-1", "1-2-3"])
    func rejectsMalformedLists(text: String) {
        #expect(throws: TopologyError("--cpuset: expected a list of PU numbers such as 0-3,8,10-11; found '\(text)'")) {
            try parseIndexList(text, option: "--cpuset")
        }
    }
}

/// Two packages of two single-PU cores, each package its own NUMA node (1 and
/// 2 GiB): the smallest hwloc 2 export with a CPU model.
private let twoPackageXML = """
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc2.dtd">
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x0000000f" complete_cpuset="0x0000000f" allowed_cpuset="0x0000000f" nodeset="0x00000003" complete_nodeset="0x00000003" allowed_nodeset="0x00000003" gp_index="1">
    <info name="CPUModel" value="Test XML CPU"/>
\(package(0, node: 0, memory: 1 << 30, gp: 2))
\(package(1, node: 1, memory: 2 << 30, gp: 8))
  </object>
</topology>
"""

/// One package `p` with NUMA node `node` and cores 2p, 2p+1 (PUs likewise).
private func package(_ p: Int, node: Int, memory: Int, gp: Int) -> String {
    let cpus = String(format: "0x%08x", 3 << (2 * p)), nodes = String(format: "0x%08x", 1 << node)
    func sets(_ c: String) -> String { "cpuset=\"\(c)\" complete_cpuset=\"\(c)\" nodeset=\"\(nodes)\" complete_nodeset=\"\(nodes)\"" }
    let cores = (0..<2).map { c in
        let pu = 2 * p + c, set = String(format: "0x%08x", 1 << pu)
        return """
              <object type="Core" os_index="\(c)" \(sets(set)) gp_index="\(gp + 2 + 2 * c)">
                <object type="PU" os_index="\(pu)" \(sets(set)) gp_index="\(gp + 3 + 2 * c)"/>
              </object>
        """
    }
    return """
        <object type="Package" os_index="\(p)" \(sets(cpus)) gp_index="\(gp)">
          <object type="NUMANode" os_index="\(node)" \(sets(cpus)) local_memory="\(memory)" gp_index="\(gp + 1)"/>
    \(cores.joined(separator: "\n"))
        </object>
    """
}
