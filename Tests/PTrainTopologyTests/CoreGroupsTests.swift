import Testing
import Foundation
import PTrainTopology
import Synchronization

private func cores(_ n: Int) -> [Core] {
    (0..<n).map { Core(index: $0, osIndex: $0, pus: [$0], package: 0, numaNode: 0) }
}

@Test("core groups are disjoint, consecutive, and refuse more cores than allowed")
func coreGroupPartition() throws {
    let groups = try CoreGroups(cores: cores(7), coresPerGroup: 2)
    #expect(groups.groups.map { $0.map(\.index) } == [[0, 1], [2, 3], [4, 5]])
    #expect(groups.describe(1) == "group 1: cores 2-3")
    #expect(try CoreGroups(cores: cores(2), coresPerGroup: 1).groups.count == 2)
    #expect(throws: TopologyError("a trial needs 3 cores, but this process may use 2 (0-1)")) {
        try CoreGroups(cores: cores(2), coresPerGroup: 3)
    }
}

/// Per-group borrow counts, and how often a group was found already borrowed.
private final class Ledger: Sendable {
    let state = Mutex((inUse: [Int](repeating: 0, count: 4), overlaps: 0))
}

@Test("no core is lent to two trials at once, under concurrent acquire and release")
func coreGroupExclusive() throws {
    let groups = try CoreGroups(cores: cores(4), coresPerGroup: 1)
    let ledger = Ledger()
    DispatchQueue.concurrentPerform(iterations: 8) { _ in
        for _ in 0..<2000 {
            guard let g = groups.acquire() else { continue }
            ledger.state.withLock { if $0.inUse[g] != 0 { $0.overlaps += 1 }; $0.inUse[g] += 1 }
            ledger.state.withLock { $0.inUse[g] -= 1 }
            groups.release(g)
        }
    }
    #expect(ledger.state.withLock { $0.overlaps } == 0)
    #expect((0..<4).allSatisfy { _ in groups.acquire() != nil } && groups.acquire() == nil)
}
