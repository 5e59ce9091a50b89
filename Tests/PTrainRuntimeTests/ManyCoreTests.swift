import Foundation
import Testing
import PTrain
import PTrainData
import PTrainRuntime
import PTrainTopology

// What ptrain decides on machines bigger than this one (simulated with hwloc
// synthetic topologies): default worker counts under a quota, where each
// worker's memory goes, and what the gradient sum costs and crosses.

@Suite struct ManyCoreTests {
    @Test func quotaOf3Point5CPUsGivesThreeWorkersOnABigMachine() throws {
        let topology = try CPUTopology(source: .synthetic("pack:2 numa:1 core:8 pu:2"))
        let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
        let quota = CPUQuota.Reading(quota: TopologyReport.simulatedQuota(3.5))
        let placement = try WorkerPlacement.plan(config.runtime, topology: topology, quota: quota)
        #expect(placement.workers == 3)
        #expect(placement.description == """
            3 workers (simulated CPU quota 3.5 CPUs limits the 16 allowed cores)
            worker 0 -> core 0 (PUs 0-1), memory on NUMA node 0
            worker 1 -> core 1 (PUs 2-3), memory on NUMA node 0
            worker 2 -> core 2 (PUs 4-5), memory on NUMA node 0
            """)
        // Without a quota: one worker per core, the second package's on node 1.
        let all = try WorkerPlacement.plan(config.runtime, topology: topology, quota: .init(quota: nil))
        #expect(all.workers == 16 && MemoryPlacement(all.placements).nodes == (0..<16).map { $0 / 8 })
    }

    @Test func topoReportOfASimulatedMachineUnderLimits() throws {
        let topology = try CPUTopology(source: .synthetic("pack:2 numa:1 core:2 pu:1"), cpuset: [1, 2, 3])
        #expect(try TopologyReport.text(topology: topology, quota: .init(quota: TopologyReport.simulatedQuota(2.5))) == """
            synthetic "pack:2 numa:1 core:2 pu:1": 2 packages, 3 of 4 cores and 3 of 4 PUs allowed, 2 NUMA nodes (0: 1 GiB, 1: 1 GiB)
            core 0: PU 1 (package 0, NUMA node 0, OS core 1)
            core 1: PU 2 (package 1, NUMA node 1, OS core 2)
            core 2: PU 3 (package 1, NUMA node 1, OS core 3)
            CPU quota: simulated CPU quota 2.5 CPUs (--cpu-quota)
            default placement (one worker per allowed core, at most floor(CPU quota)):
            2 workers (simulated CPU quota 2.5 CPUs limits the 3 allowed cores)
            worker 0 -> core 0 (PU 1), memory on NUMA node 0
            worker 1 -> core 1 (PU 2), memory on NUMA node 1
            memory: NUMA node 0: worker 0; NUMA node 1: worker 1 (each worker's arenas and its parameter slice, first touched after pinning)
            """)
    }

    @Test func aligned64WorkersReduceWithinEachNodeFirst() throws {
        // 2 sockets x 4 NUMA nodes x 8 cores: each node's 8 workers are one subtree of the 64-leaf tree.
        let topology = try CPUTopology(source: .synthetic("pack:2 numa:4 core:8 pu:1"))
        let nodes = MemoryPlacement(try topology.plan(workers: 64, bind: .core)).nodes
        let cost = ReductionCost(plan: ShardPlan(batch: 128, shardSize: 2, workers: 64), parameters: 64 * 1000, nodes: nodes)
        #expect(cost.reducesWithinNodesFirst)
        #expect(cost.crossNodeAdditions == 7)  // one per pair of node sums: nodes - 1
        // Dynamic schedule: 64 leaves, one block of leaves per worker: the same property.
        let dynamic = ReductionCost(plan: ShardPlan(batch: 128, shardSize: 2, workers: 64, dynamic: true), parameters: 64 * 1000, nodes: nodes)
        #expect(dynamic.reducesWithinNodesFirst && dynamic.crossNodeAdditions == 7)
    }

    @Test func cpusetThatSplitsANodeBreaksTheNodeSubtrees() throws {
        // Cores 1-3 of node 0 and core 4 of node 1: workers 0-2 on node 0, worker 3 on node 1.
        let topology = try CPUTopology(source: .synthetic("pack:2 numa:1 core:4 pu:1"), cpuset: [1, 2, 3, 4])
        let nodes = MemoryPlacement(try topology.plan(workers: 4, bind: .core)).nodes
        #expect(nodes == [0, 0, 0, 1])
        let cost = ReductionCost(plan: ShardPlan(batch: 8, shardSize: 2, workers: 4), parameters: 4000, nodes: nodes)
        #expect(!cost.reducesWithinNodesFirst)
        #expect(cost.crossNodeAdditions == 1)  // arenas 2 (node 0) + 3 (node 1)
    }

    @Test func bytesAndBarriersOfTheSum() {
        // P = 1600 floats, 4 shards. Static, 2 workers: each sums 2 shards (one
        // copy + one addition of P: 20 P bytes), then its 800-float slice of
        // arena 0 += arena 1 (read 2, write 1: 12 x 800 bytes).
        let two = ReductionCost(plan: ShardPlan(batch: 8, shardSize: 2, workers: 2), parameters: 1600, nodes: [0, 1])
        #expect(two.localBytes == 20 * 1600 && two.sliceBytes == 12 * 800)
        // Worker 1 reads and writes arena 0 (8 x 800 bytes) on the other node.
        #expect(two.otherWorkerBytes == 8 * 800 && two.crossNodeBytes == 8 * 800)
        #expect(two.bytesPerWorker == 20 * 1600 + 12 * 800 && two.barriersPerStep == 3)
        #expect(two.reducesWithinNodesFirst && two.crossNodeAdditions == 1)
        // One worker: no slice sum, three in-worker tree nodes.
        let one = ReductionCost(plan: ShardPlan(batch: 8, shardSize: 2, workers: 1), parameters: 1600, nodes: [0])
        #expect(one.localBytes == 3 * 20 * 1600 && one.sliceBytes == 0 && one.otherWorkerBytes == 0)
        // Dynamic, 2 workers: 2 leaf copies each, 3 additions over the 4 leaves per slice.
        let dynamic = ReductionCost(plan: ShardPlan(batch: 8, shardSize: 2, workers: 2, dynamic: true), parameters: 1600,
                                    nodes: [nil, nil], clipping: true, processes: 2)
        #expect(dynamic.localBytes == 2 * 8 * 1600 && dynamic.sliceBytes == 3 * 12 * 800 && dynamic.crossNodeBytes == 0)
        #expect(dynamic.barriersPerStep == 7)  // + clipping + 3 for the processes
        #expect(two.summary == "reduction: 40.6 KiB per worker per step (31.2 KiB partial sums, 9.4 KiB slice sum: 6.2 KiB in other workers' arenas, 6.2 KiB across NUMA nodes, 1 cross-node addition, within nodes first: yes), 3 barriers per step")
    }

    @Test(arguments: [(8, 3), (64, 64), (5, 8), (2, 1)])
    func firstTouchRegionsCoverEverythingOnce(_ c: (leaves: Int, workers: Int)) {
        let count = 1000
        let gradients = (0..<c.workers).map { _ in [FloatBuffer(count: count)] }
        let leaves = (0..<c.leaves).map { _ in FloatBuffer(count: count) }
        let parameters = [FloatBuffer(count: count)], states = [FloatBuffer(count: 2 * count)]
        let touch = FirstTouch(gradients: gradients, leaves: leaves, parameters: parameters, states: states)
        // Every float of every buffer belongs to exactly one worker's regions.
        var owners: [UnsafeMutablePointer<Float>: Int] = [:]
        for regions in touch.regions {
            for (start, n) in regions { for i in 0..<n { owners[start + i, default: 0] += 1 } }
        }
        let all = gradients.flatMap { $0 } + leaves + parameters + states
        #expect(owners.count == all.reduce(0) { $0 + $1.count } && owners.values.allSatisfy { $0 == 1 })
        // Worker w's own gradient arena is among its regions.
        for w in 0..<c.workers { #expect(touch.regions[w].contains { $0.0 == gradients[w][0].pointer }) }
    }

    @Test func averagingReplicasAreTouchedWholeByTheirWorker() {
        let gradients = (0..<2).map { _ in [FloatBuffer(count: 10)] }
        let parameters = [FloatBuffer(count: 10), FloatBuffer(count: 10)], states = [FloatBuffer(count: 10), FloatBuffer(count: 10)]
        let touch = FirstTouch(gradients: gradients, leaves: [], parameters: parameters, states: states)
        #expect(touch.regions[1].map(\.0) == [gradients[1][0].pointer, parameters[1].pointer, states[1].pointer])
        #expect(touch.regions[1].map(\.1) == [10, 10, 10])
    }
}

@Suite struct StragglerTests {
    @Test("with 4 workers a stalled one sits out, then another; the ranks stay dense; a probe brings all back")
    func stragglersAmongFourWorkers() {
        let participation = Participation(workers: 4)
        // Worker 2's core is busy: the others waited half the sub-run for it.
        #expect(participation.afterSubRun(seconds: 1, waited: { $0 == 2 ? 0.01 : 0.5 }) == .sitsOut(worker: 2, waitedShare: 0.5))
        #expect((0..<4).map { participation.rank[$0] } == [0, 1, -1, 2] && participation.activeCount == 3)
        // A balanced sub-run (everyone waits a little) changes nothing.
        #expect(participation.afterSubRun(seconds: 1, waited: { _ in 0.1 }) == nil)
        // Then worker 0 stalls: it sits out too; worker 2's time is not counted.
        #expect(participation.afterSubRun(seconds: 1, waited: { [0.0, 0.4, 0.0, 0.45][$0] }) == .sitsOut(worker: 0, waitedShare: 0.45))
        #expect((0..<4).map { participation.rank[$0] } == [-1, 0, -1, 1] && participation.activeCount == 2)
        var back: ParticipationChange? = nil
        for _ in 0..<Participation.probeEvery where back == nil { back = participation.beforeSubRun() }
        #expect(back == .allBack(workers: 4) && participation.activeCount == 4)
    }
}
