import Testing
import PTrainTopology

@Suite struct TopologyDescriptionTests {
    // Expected text written by hand from the fixture in FakeTopologies.swift.
    @Test func describesSMTMachineRestrictedToFourCores() {
        #expect(fakeSMTTopology().describe() == """
            Test CPU 9000 6-Core: 1 package, 4 of 6 cores and 8 of 12 PUs allowed, 1 NUMA node (16 GiB)
            L1d cache: 48 KiB per instance, 64 B lines, shared by 2 PUs
            L2 cache: 1 MiB per instance, 64 B lines, shared by 2 PUs
            L3 cache: 32 MiB per instance, 64 B lines, shared by 12 PUs
            core 0: PUs 2,8 (package 0, NUMA node 0, OS core 2)
            core 1: PUs 3,9 (package 0, NUMA node 0, OS core 3)
            core 2: PUs 4,10 (package 0, NUMA node 0, OS core 4)
            core 3: PUs 5,11 (package 0, NUMA node 0, OS core 5)
            """)
    }

    @Test func describesSparseTwoSocketMachine() {
        #expect(fakeTwoSocketTopology().describe() == """
            unknown CPU model: 2 packages, 2 of 2 cores and 2 of 2 PUs allowed, 2 NUMA nodes (0: 1.5 GiB, 1: 1 GiB)
            core 0: PU 0 (package 0, NUMA node 0, OS core 0)
            core 1: PU 1 (package 1, no NUMA node, OS core 0)
            """)
    }

    @Test func puCountSumsAllowedPUs() {
        #expect(fakeSMTTopology().puCount == 8)
        #expect(fakeTwoSocketTopology().puCount == 2)
    }

    @Test(arguments: [
        ([0, 1, 2, 3, 8, 10, 11], "0-3,8,10-11"),
        ([5], "5"),
        ([3, 1, 2, 2], "1-3"),
        ([0, 2, 4], "0,2,4"),
        ([], ""),
    ])
    func formatsIndexListsLikeTaskset(indices: [Int], expected: String) {
        #expect(formatIndexList(indices) == expected)
    }

    @Test(arguments: [
        (0, "0 B"), (64, "64 B"), (48 * 1024, "48 KiB"), (1 << 20, "1 MiB"),
        (32 << 20, "32 MiB"), (3 << 29, "1.5 GiB"), (8_300_000_000, "7.7 GiB"), (1536, "1.5 KiB"),
    ])
    func formatsBytesInBinaryUnits(bytes: Int, expected: String) {
        #expect(formatBytes(bytes) == expected)
    }
}
