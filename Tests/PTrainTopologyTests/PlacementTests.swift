import Testing
import PTrainTopology

@Suite struct WorkerPlacementTests {
    @Test(arguments: 1...4)
    func bindCoreGivesWorkerItsOwnCore(workers: Int) throws {
        let topology = fakeSMTTopology()
        let placements = try topology.plan(workers: workers, bind: .core)
        #expect(placements.map(\.worker) == Array(0..<workers))
        #expect(placements.map { $0.core?.index } == Array(0..<workers))
        #expect(placements.map { $0.core } == Array(topology.cores.prefix(workers)))
    }

    @Test func bindNoneLeavesEveryWorkerUnbound() throws {
        // More workers than cores is fine when nothing is pinned.
        let placements = try fakeTwoCoreTopology().plan(workers: 5, bind: .none)
        #expect(placements == (0..<5).map { Placement(worker: $0, core: nil) })
    }

    @Test func tooManyWorkersForCoresIsAnErrorNamingTheCores() {
        #expect(throws: TopologyError(
            "--workers 4 with --bind core needs 4 cores, but this process may use 2 (cores 0-1); "
            + "use --bind none to run more workers than cores")) {
            try fakeTwoCoreTopology().plan(workers: 4, bind: .core)
        }
    }

    @Test func tooManyWorkersForOneCoreUsesSingular() {
        #expect(throws: TopologyError(
            "--workers 2 with --bind core needs 2 cores, but this process may use 1 (core 0); "
            + "use --bind none to run more workers than cores")) {
            try fakeOneCoreTopology().plan(workers: 2, bind: .core)
        }
    }

    @Test(arguments: [BindMode.core, .none])
    func zeroWorkersIsAnError(bind: BindMode) {
        #expect(throws: TopologyError("--workers must be at least 1 (got 0)")) {
            try fakeTwoCoreTopology().plan(workers: 0, bind: bind)
        }
    }

    @Test func staticPlanMatchesInstancePlan() throws {
        let topology = fakeSMTTopology()
        #expect(try CPUTopology.plan(workers: 3, bind: .core, cores: topology.cores)
                == topology.plan(workers: 3, bind: .core))
    }

    @Test func describesPlacementsOnePerLine() throws {
        let smt = fakeSMTTopology()
        #expect(smt.describe(try smt.plan(workers: 2, bind: .core)) == """
            worker 0 -> core 0 (PUs 2,8), memory on NUMA node 0
            worker 1 -> core 1 (PUs 3,9), memory on NUMA node 0
            """)
        let twoCore = fakeTwoCoreTopology()
        #expect(twoCore.describe(try twoCore.plan(workers: 2, bind: .core)) == """
            worker 0 -> core 0 (PU 0), memory on NUMA node 0
            worker 1 -> core 1 (PU 1), memory on NUMA node 0
            """)
        #expect(twoCore.describe(try twoCore.plan(workers: 3, bind: .none)) == """
            worker 0 -> unbound, memory where the kernel first runs it
            worker 1 -> unbound, memory where the kernel first runs it
            worker 2 -> unbound, memory where the kernel first runs it
            """)
    }

    @Test func bindModeParsesFromCommandLineSpelling() {
        #expect(BindMode(rawValue: "core") == .core)
        #expect(BindMode(rawValue: "none") == BindMode.none)
        #expect(BindMode(rawValue: "socket") == nil)
    }
}
