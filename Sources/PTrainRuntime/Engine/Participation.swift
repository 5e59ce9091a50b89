import Foundation

/// Which workers take part in the steps of the dynamic shard schedule.
///
/// Under the dynamic schedule the shards' summation tree does not depend on
/// who computes them, so a worker whose core is shared with another process
/// (a straggler the others keep waiting for) can sit out without changing a
/// single bit. Decisions are made by the coordinator between sub-runs of
/// `DataParallelEngine.subRunSteps` steps; workers read `rank` during them.
/// Under the static schedule every worker always takes part (`rank[w] == w`).
final class Participation {
    let workers: Int
    /// `rank[w]`: worker w's index among the active workers, or -1 while it sits out.
    let rank: UnsafeMutablePointer<Int>
    private(set) var activeCount: Int
    private var subRuns = 0
    /// A worker that the others waited for more than this share of a sub-run sits out.
    static let stragglerWaitShare = 0.35
    /// Sitting-out workers are tried again every this many sub-runs.
    static let probeEvery = 16

    init(workers: Int) {
        self.workers = workers
        rank = .allocate(capacity: workers)
        for w in 0..<workers { rank[w] = w }
        activeCount = workers
    }

    deinit { rank.deallocate() }

    /// Sets the active workers (tests; otherwise decided by `afterSubRun`).
    func set(_ active: [Bool]) {
        precondition(active.count == workers && active.contains(true))
        activeCount = 0
        for w in 0..<workers { rank[w] = active[w] ? activeCount : -1; if active[w] { activeCount += 1 } }
    }

    /// Before a sub-run: every `probeEvery` sub-runs, sitting-out workers
    /// are tried again. Returns a note when that happens.
    func beforeSubRun() -> String? {
        subRuns += 1
        guard activeCount < workers && subRuns % Self.probeEvery == 0 else { return nil }
        for w in 0..<workers { rank[w] = w }
        activeCount = workers
        return "all \(workers) workers take part again (probe)"
    }

    /// After a sub-run of `seconds`, in which worker w waited `waited(w)`
    /// seconds at step barriers: if the others spent more than
    /// `stragglerWaitShare` of it waiting, the worker they waited for (the
    /// one that waited least) sits out. Returns a note when that happens.
    func afterSubRun(seconds: Double, waited: (Int) -> Double) -> String? {
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
        return String(format: "worker %d sits out: the others waited %.0f%% of the time for it (is its core busy?); results are unchanged",
                      straggler, 100 * most)
    }
}
