import PTrain
import Foundation
import Synchronization

/// A reusable barrier for a fixed number of threads that spins for a bounded
/// time and then blocks.
///
/// Why both: between pinned workers on idle cores a spin barrier costs ~0.1 µs
/// and a condition variable 25-30 µs (docs/platform.md), so short waits spin. But
/// when a core is shared with another process, pure spinning burns the time
/// slice the straggler needs (PyTorch's OpenMP falls to 0.17x here), so a
/// waiter gives up after `spinLimit` and sleeps until the last thread arrives.
///
/// Memory ordering: everything a thread wrote before `wait()` is visible to
/// every thread after its `wait()` returns (release on arrival, acquire on
/// departure), which is what the step phases rely on.
public final class HybridBarrier: @unchecked Sendable {
    /// Threads that must arrive; changed only while no thread is waiting.
    public private(set) var parties: Int
    /// Spin time before blocking, in seconds.
    public let spinLimit: Double
    private let arrived = Atomic<Int>(0)
    private let generation = Atomic<Int>(0)
    private let condition = NSCondition()

    public init(parties: Int, spinLimit: Double = 50e-6) {
        precondition(parties >= 1)
        self.parties = parties
        self.spinLimit = spinLimit
    }

    /// Changes the number of parties. Only while the barrier is idle (no thread
    /// inside `wait()`); the change is published by whatever synchronisation
    /// starts the next use (for the worker pool: its start barrier).
    public func setParties(_ n: Int) {
        precondition(n >= 1 && arrived.load(ordering: .relaxed) == 0)
        parties = n
    }

    /// Waits until `parties` threads have called `wait()` for this generation.
    /// `spin: false` blocks at once (for a coordinator that has no core of its own).
    public func wait(spin: Bool = true) {
        let gen = generation.load(ordering: .acquiring)
        if arrived.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == parties {
            arrived.store(0, ordering: .relaxed)
            condition.lock()
            generation.wrappingAdd(1, ordering: .releasing)
            condition.broadcast()
            condition.unlock()
            return
        }
        if spin {
            let deadline = monotonicSeconds() + spinLimit
            var polls = 0
            while generation.load(ordering: .acquiring) == gen {
                polls += 1
                // Read the clock only every 64 polls: it costs more than a poll.
                if polls & 63 == 0 && monotonicSeconds() > deadline { break }
            }
        }
        condition.lock()
        while generation.load(ordering: .acquiring) == gen { condition.wait() }
        condition.unlock()
    }
}

extension HybridBarrier: WorkerBarrier {
    /// The step's workers meet mid-step (batch norm's global statistics).
    public func pass() { wait() }
}
