import PTrainTopology

// Made-up machines for the text and planning tests: values chosen by hand so
// every expected string below can be checked by reading the fixture.

/// A 6-core, 12-PU SMT machine (PU n and n+6 are siblings) of which the process
/// may use OS cores 2-5, as under `taskset -c 2-5,8-11`: logical core indices
/// (0-3) differ from OS core indices (2-5) on purpose.
func fakeSMTTopology() -> CPUTopology {
    CPUTopology(
        model: "Test CPU 9000 6-Core",
        packageCount: 1, machineCoreCount: 6, machinePUCount: 12,
        cores: (0..<4).map { i in Core(index: i, osIndex: i + 2, pus: [i + 2, i + 8], package: 0, numaNode: 0) },
        caches: [Cache(level: 1, sizeBytes: 48 * 1024, lineBytes: 64, sharedByPUs: 2),
                 Cache(level: 2, sizeBytes: 1024 * 1024, lineBytes: 64, sharedByPUs: 2),
                 Cache(level: 3, sizeBytes: 32 * 1024 * 1024, lineBytes: 64, sharedByPUs: 12)],
        numaNodes: [NUMANode(index: 0, memoryBytes: 16 << 30)])
}

/// Two single-core packages, each its own NUMA node, no model string and no
/// cache information: the sparse case a VM or an odd kernel can report.
func fakeTwoSocketTopology() -> CPUTopology {
    CPUTopology(
        model: nil,
        packageCount: 2, machineCoreCount: 2, machinePUCount: 2,
        cores: [Core(index: 0, osIndex: 0, pus: [0], package: 0, numaNode: 0),
                Core(index: 1, osIndex: 0, pus: [1], package: 1, numaNode: nil)],
        caches: [],
        numaNodes: [NUMANode(index: 0, memoryBytes: 3 << 29), NUMANode(index: 1, memoryBytes: 1 << 30)])
}

/// Like this CI machine: two cores, one PU each.
func fakeTwoCoreTopology() -> CPUTopology {
    CPUTopology(
        model: "AMD EPYC", packageCount: 1, machineCoreCount: 2, machinePUCount: 2,
        cores: [Core(index: 0, osIndex: 0, pus: [0], package: 0, numaNode: 0),
                Core(index: 1, osIndex: 1, pus: [1], package: 0, numaNode: 0)],
        caches: [], numaNodes: [NUMANode(index: 0, memoryBytes: 5 << 30)])
}

/// What `taskset -c 1` leaves of `fakeTwoCoreTopology`.
func fakeOneCoreTopology() -> CPUTopology {
    CPUTopology(
        model: "AMD EPYC", packageCount: 1, machineCoreCount: 2, machinePUCount: 2,
        cores: [Core(index: 0, osIndex: 1, pus: [1], package: 0, numaNode: 0)],
        caches: [], numaNodes: [NUMANode(index: 0, memoryBytes: 5 << 30)])
}
