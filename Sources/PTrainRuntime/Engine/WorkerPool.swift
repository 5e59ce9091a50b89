import Foundation

/// Persistent worker threads that ptrain owns (and so may pin to cores).
///
/// The pool runs ONE job function, fixed at creation, once per `run()`: the
/// coordinator publishes what the job should do in shared state, calls
/// `run()`, and every worker calls `job(workerIndex)`; `run()` returns when all
/// have finished. Nothing is allocated per `run()` (no closures are created),
/// so a training step allocates nothing. Workers may synchronise among
/// themselves inside the job with `barrier`.
public final class WorkerPool: @unchecked Sendable {
    public let count: Int
    /// For phases inside a job (all `count` workers, coordinator excluded).
    public let barrier: HybridBarrier
    private let start: HybridBarrier
    private let finish: HybridBarrier
    private var job: ((Int) -> Void)?
    private var stopping = false
    private var threads: [Thread] = []

    /// Starts `count` threads. `setUp(w)` runs first on worker w's own thread
    /// (pinning); if any throws, the pool is shut down and the first error
    /// (lowest worker index) is rethrown.
    public init(count: Int, name: String = "ptrain-worker", setUp: @escaping @Sendable (Int) throws -> Void) throws {
        precondition(count >= 1)
        self.count = count
        barrier = HybridBarrier(parties: count)
        start = HybridBarrier(parties: count + 1)
        finish = HybridBarrier(parties: count + 1)
        let errors = ErrorSlots(count: count)
        let ready = HybridBarrier(parties: count + 1)
        for w in 0..<count {
            // Each thread holds the pool until it exits (after `shutdown`), so
            // the pool is never freed under a thread still leaving a barrier.
            let thread = Thread {
                do { try setUp(w) } catch { errors.set(w, error) }
                ready.wait()
                self.loop(worker: w)
            }
            thread.name = "\(name)-\(w)"
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
        ready.wait(spin: false)
        if let error = errors.first {
            shutdown()
            throw error
        }
    }

    /// Sets the job every later `run()` executes.
    public func setJob(_ job: @escaping (Int) -> Void) { self.job = job }

    /// Runs the job on every worker and waits for all of them.
    public func run() {
        start.wait(spin: false)
        finish.wait(spin: false)
    }

    private func loop(worker: Int) {
        while true {
            start.wait()
            if stopping { return }
            job?(worker)
            finish.wait()
        }
    }

    /// Stops the threads (they exit at their next start). Idempotent.
    public func shutdown() {
        guard !stopping else { return }
        stopping = true
        start.wait(spin: false)
    }

    // No deinit: the threads keep the pool alive; owners call `shutdown()`.
}

/// First error per worker, written by each worker's own thread during set-up.
private final class ErrorSlots: @unchecked Sendable {
    private var slots: [Error?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ e: Error) { lock.lock(); slots[i] = e; lock.unlock() }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return slots.compactMap { $0 }.first }
}
