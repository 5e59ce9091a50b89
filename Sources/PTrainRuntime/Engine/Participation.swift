import Foundation

/// A change of who takes part, as a value: building its text allocates, so
/// the engine hands this to its `onNote` and the listener decides (steps
/// allocate nothing, also on a loaded machine where a worker is benched).
public enum ParticipationChange: Sendable, Equatable, CustomStringConvertible {
    /// `worker` sits out: the others waited `waitedShare` (0...1) of the sub-run for it.
    case sitsOut(worker: Int, waitedShare: Double)
    /// Every one of `workers` takes part again (the periodic probe).
    case allBack(workers: Int)

    public var description: String {
        switch self {
        case let .sitsOut(worker, share):
            String(format: "worker %d sits out: the others waited %.0f%% of the time for it (is its core busy?); results are unchanged",
                   worker, 100 * share)
        case let .allBack(workers):
            "all \(workers) workers take part again (probe)"
        }
    }
}

/// Which workers take part in the steps of the dynamic shard schedule.
///
/// Under the dynamic schedule the shards' summation tree does not depend on
/// who computes them, so a worker whose core is shared with another process
/// (a straggler the others keep waiting for) can sit out without changing a
/// single bit. Decisions are made by the coordinator between sub-runs of
/// `DataParallelEngine.subRunSteps` steps; workers read `rank` during them.
/// Under the static schedule every worker always takes part (`rank[w] == w`).
package final class Participation {
    package let workers: Int
    /// `rank[w]`: worker w's index among the active workers, or -1 while it sits out.
    package let rank: UnsafeMutablePointer<Int>
    package private(set) var activeCount: Int
    private var subRuns = 0
    /// A worker that the others waited for more than this share of a sub-run sits out.
    static let stragglerWaitShare = 0.35
    /// Sitting-out workers are tried again every this many sub-runs.
    package static let probeEvery = 16

    package init(workers: Int) {
        self.workers = workers
        rank = .allocate(capacity: workers)
        for w in 0..<workers { rank[w] = w }
        activeCount = workers
    }

    deinit { rank.deallocate() }

    /// Sets the active workers (tests; otherwise decided by `afterSubRun`).
    package func set(_ active: [Bool]) {
        precondition(active.count == workers && active.contains(true))
        activeCount = 0
        for w in 0..<workers { rank[w] = active[w] ? activeCount : -1; if active[w] { activeCount += 1 } }
    }

    /// Before a sub-run: every `probeEvery` sub-runs, sitting-out workers
    /// are tried again. Returns the change when that happens.
    package func beforeSubRun() -> ParticipationChange? {
        subRuns += 1
        guard activeCount < workers && subRuns % Self.probeEvery == 0 else { return nil }
        for w in 0..<workers { rank[w] = w }
        activeCount = workers
        return .allBack(workers: workers)
    }

    /// After a sub-run of `seconds`, in which worker w waited `waited(w)`
    /// seconds at step barriers: if the others spent more than
    /// `stragglerWaitShare` of it waiting, the worker they waited for (the
    /// one that waited least) sits out. Returns the change when that happens.
    package func afterSubRun(seconds: Double, waited: (Int) -> Double) -> ParticipationChange? {
        guard activeCount > 1, seconds > 0 else { return nil }
        var most = 0.0, least = Double.infinity, straggler = -1
        for w in 0..<workers where rank[w] >= 0 {
            let share = waited(w) / seconds
            most = max(most, share)
            if share < least { least = share; straggler = w }
        }
        guard most > Self.stragglerWaitShare, straggler >= 0 else { return nil }
        rank[straggler] = -1
        activeCount = 0
        for w in 0..<workers where rank[w] >= 0 { rank[w] = activeCount; activeCount += 1 }
        return .sitsOut(worker: straggler, waitedShare: most)
    }
}
