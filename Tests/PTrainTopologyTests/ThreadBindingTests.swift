import Testing
import Foundation
import PTrainTopology

@Suite struct ThreadBindingTests {
    /// A dedicated Thread (never a pool thread: it would stay pinned) bound to
    /// core 0 must report only core 0's PUs (a prototype held 1000/1000: docs/platform.md).
    @Test func boundThreadStaysOnItsCore() async throws {
        let topology = try CPUTopology()
        let core = topology.cores[0]
        let samples: [Int] = try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    try topology.bindCurrentThread(toCore: core)
                    var seen: [Int] = []
                    seen.reserveCapacity(1000)
                    for _ in 0..<1000 {
                        seen.append(CPUTopology.currentPU())
                        usleep(20)  // give the scheduler chances to migrate us; it must not
                    }
                    continuation.resume(returning: seen)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
        let offCore = samples.filter { !core.pus.contains($0) }
        #expect(samples.count == 1000)
        #expect(offCore.isEmpty, "samples off core 0 (PUs \(core.pus)): \(Set(offCore).sorted()) x\(offCore.count)")
    }

    /// PU 999 does not exist here: hwloc refuses a set outside the machine with
    /// EINVAL before calling the kernel, so the calling thread is left untouched.
    @Test func bindingToANonexistentPUThrowsNamingCoreAndPU() throws {
        let topology = try CPUTopology()
        let ghost = Core(index: 5, osIndex: 999, pus: [999], package: 0, numaNode: nil)
        #expect(throws: TopologyError("cannot bind worker thread to core 5 (OS PU 999): Invalid argument")) {
            try topology.bindCurrentThread(toCore: ghost)
        }
    }

    @Test func bindingACoreWithNoPUsThrows() throws {
        let topology = try CPUTopology()
        let empty = Core(index: 0, osIndex: 0, pus: [], package: 0, numaNode: nil)
        #expect(throws: TopologyError("cannot bind worker thread to core 0 (OS PUs: none): Invalid argument")) {
            try topology.bindCurrentThread(toCore: empty)
        }
    }

    @Test func fakeTopologyCannotBind() {
        let topology = fakeTwoCoreTopology()
        #expect(throws: TopologyError("cannot bind worker thread to core 1 (OS PU 1): "
                                      + "no hardware topology behind this CPUTopology (built from explicit values)")) {
            try topology.bindCurrentThread(toCore: topology.cores[1])
        }
    }

    @Test func currentPUIsAnAllowedPU() throws {
        let allowed = Set(try CPUTopology().cores.flatMap(\.pus))
        #expect(allowed.contains(CPUTopology.currentPU()))
    }
}
