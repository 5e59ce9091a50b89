import Foundation
import PTrainRuntime

/// A `ProcessGroup` whose ranks are threads of the test process: the
/// reference semantics of the MPI group (the same tree sum, rank-order sums
/// and OR), so the multi-process paths of the engine and trainer are tested
/// without MPI. Slow and allocating (copies every buffer): tests only.
final class ThreadRanks: ProcessGroup, @unchecked Sendable {
    let rank: Int
    let size: Int
    private let hub: Hub

    /// The ranks of one job: `make(R)[r]` is rank r.
    static func make(_ size: Int) -> [ThreadRanks] {
        let hub = Hub(size: size)
        return (0..<size).map { ThreadRanks(rank: $0, hub: hub) }
    }

    private init(rank: Int, hub: Hub) {
        self.rank = rank
        self.size = hub.size
        self.hub = hub
    }

    func treeSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        hub.slots[rank].floats = Array(UnsafeBufferPointer(start: buffer, count: count))
        hub.barrier()
        var copies = hub.slots.map(\.floats)
        hub.barrier()  // everyone has copied: the slots may be reused
        func tree(_ lo: Int, _ hi: Int) {
            guard hi - lo > 1 else { return }
            let mid = lo + (hi - lo) / 2
            tree(lo, mid)
            tree(mid, hi)
            for i in 0..<count { copies[lo][i] += copies[mid][i] }
        }
        tree(0, size)
        buffer.update(from: copies[0], count: count)
    }

    func sum(_ values: UnsafeMutablePointer<Double>, count: Int) {
        hub.slots[rank].doubles = Array(UnsafeBufferPointer(start: values, count: count))
        hub.barrier()
        let all = hub.slots.map(\.doubles)
        hub.barrier()
        for i in 0..<count { values[i] = all.reduce(0) { $0 + $1[i] } }
    }

    func any(_ flags: Int32) -> Int32 {
        hub.slots[rank].flags = flags
        hub.barrier()
        let all = hub.slots.map(\.flags)
        hub.barrier()
        return all.reduce(0, |)
    }

    func abort(_ message: String) -> Never { fatalError("rank \(rank): \(message)") }

    /// Runs `body(rank)` on one thread per rank and returns the results in
    /// rank order (rethrowing the first error).
    static func run<T>(_ ranks: [ThreadRanks], _ body: @escaping (ThreadRanks) throws -> T) throws -> [T] {
        let results = ResultBox<T>(count: ranks.count)
        let done = DispatchGroup()
        // Each thread only reads what `body` captured (configs, data sets).
        nonisolated(unsafe) let body = body
        for r in ranks {
            done.enter()
            let thread = Thread {
                results.set(r.rank, Result { try body(r) })
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return try results.values.map { try $0!.get() }
    }

    private final class ResultBox<T>: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [Result<T, Error>?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Result<T, Error>) { lock.lock(); values[i] = r; lock.unlock() }
    }

    /// One slot per rank (written only by its rank, read by all after a
    /// barrier) and a reusable barrier (generation counted).
    private final class Hub: @unchecked Sendable {
        final class Slot {
            var floats: [Float] = [], doubles: [Double] = [], flags: Int32 = 0
        }
        let size: Int
        let slots: [Slot]
        private let condition = NSCondition()
        private var arrived = 0, generation = 0

        init(size: Int) {
            self.size = size
            slots = (0..<size).map { _ in Slot() }
        }

        func barrier() {
            condition.lock()
            defer { condition.unlock() }
            let mine = generation
            arrived += 1
            if arrived == size {
                arrived = 0
                generation += 1
                condition.broadcast()
            } else {
                while generation == mine { condition.wait() }
            }
        }
    }
}
