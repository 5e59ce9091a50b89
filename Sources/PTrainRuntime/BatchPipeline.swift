import Dispatch
import Foundation
import PTrain
import PTrainData
import Synchronization

/// Prepares training batches ahead of the workers on its own thread,
/// double-buffered: while the workers compute step k from one batch buffer,
/// the pipeline reads, crops, flips, lights and normalises the samples of step
/// k + 1 into the other. The two buffers are recycled for the whole run;
/// nothing is allocated per step. Workers copy their shards out of the ready
/// buffer (`loadShard`); the time they wait for it is the step's data wait.
///
/// In a multi-process job each process prepares only its `part` of every
/// global batch (its ranks' shards); buffer offsets are relative to it.
///
/// The pipeline thread is not pinned (every core has a worker): its work is
/// small next to a step's compute, and the scheduler fits it in.
///
/// With `inWorkers` (every core has a worker), the thread only keeps the
/// step count and each worker fills its own shard (`loadShard`): the same
/// samples with the same augmentation (drawn per sample from seed, epoch and
/// index), but spread evenly over the workers instead of taken from
/// whichever worker the scheduler preempts for the pipeline thread, which
/// the others then wait for at the step's barrier (W1 with 2 workers on 2
/// cores: 40.7k -> 43.8k img/s training, `tools/ab-bench`).
final class BatchPipeline: @unchecked Sendable {
    let set: SampleSet
    /// The global batch, and the samples of it this process prepares.
    let batch: Int
    let part: Range<Int>
    /// `inputs[i]` `[part.count, C, h, w]`, `labels[i]` `[part.count]`.
    private let inputs: [FloatBuffer]
    private let labels: [Int32Buffer]
    /// The epoch's sample order (copied in by `setOrder`).
    private let order: UnsafeMutablePointer<Int>
    // The current run of steps, published to the thread by `start`.
    private var first = 0, count = 0, epoch = 0
    private let seed: UInt64
    private let filled = Atomic<Int>(0), consumed = Atomic<Int>(0)
    private let cancelled = Atomic<Bool>(false), busy = Atomic<Bool>(false), stopping = Atomic<Bool>(false)
    private let start = DispatchSemaphore(value: 0)
    /// Signalled when a buffer is released (or the run is cancelled): the
    /// pipeline sleeps on it instead of polling, so it takes no CPU from the
    /// workers while it is ahead. Extra signals only cause a re-check.
    private let released = DispatchSemaphore(value: 0)
    private var thread: Thread?

    /// Workers fill their own shards (`loadShard`); the batch buffers stay empty.
    let inWorkers: Bool

    /// Whether `workers` workers fill their own shards under `runtime.loader`:
    /// `auto` when every online CPU has a worker (`cpus`).
    static func fillsInWorkers(_ loader: RuntimeConfig.Loader, workers: Int,
                               cpus: Int = ProcessInfo.processInfo.activeProcessorCount) -> Bool {
        switch loader {
        case .auto: workers >= cpus
        case .workers: true
        case .thread: false
        }
    }

    init(set: SampleSet, batch: Int, part: Range<Int>? = nil, seed: UInt64, inWorkers: Bool = false) {
        self.set = set
        self.inWorkers = inWorkers
        self.batch = batch
        let part = part ?? 0..<batch
        self.part = part
        self.seed = seed
        let buffered = inWorkers ? 0 : part.count
        inputs = (0..<2).map { _ in FloatBuffer(count: buffered * set.shape.count) }
        labels = (0..<2).map { _ in Int32Buffer(count: buffered) }
        order = .allocate(capacity: max(set.count, 1))
        // The thread holds the pipeline until it exits (after `shutdown`), so
        // the object cannot be freed under a thread that is still waking up.
        let thread = Thread { self.loop() }
        thread.name = "ptrain-pipeline"
        self.thread = thread
        thread.start()
    }

    deinit { order.deallocate() }

    /// Stops the thread (idempotent). The owner must call it: the running
    /// thread keeps the pipeline alive until then.
    func shutdown() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        start.signal()
    }

    func setOrder(_ permutation: [Int], epoch: Int) {
        permutation.withUnsafeBufferPointer { order.update(from: $0.baseAddress!, count: min($0.count, set.count)) }
        self.epoch = epoch
    }

    /// Starts preparing steps `first ..< first + count` of the epoch.
    func begin(first: Int, count: Int) {
        self.first = first
        self.count = count
        filled.store(0, ordering: .relaxed)
        consumed.store(0, ordering: .relaxed)
        cancelled.store(false, ordering: .relaxed)
        busy.store(true, ordering: .releasing)
        start.signal()
    }

    /// Ends the run: the thread stops preparing (steps may remain unused when
    /// a run stopped early) and is idle when this returns.
    func finish() {
        cancelled.store(true, ordering: .releasing)
        released.signal()
        Self.wait { !self.busy.load(ordering: .acquiring) }
    }

    /// Step k's buffer may be refilled (every worker is done with it).
    func release(_ k: Int) {
        consumed.store(k + 1, ordering: .releasing)
        released.signal()
    }

    /// Dataset index of sample `i` of this process's part of step `k`'s batch.
    func sampleIndex(step k: Int, _ i: Int) -> Int { order[(first + k) * batch + part.lowerBound + i] }

    /// Samples `from ..< from + count` of this process's part of step `k`'s
    /// batch into `input` and `labels`: filled here (`inWorkers`), or copied
    /// out of the thread's buffer once it is ready. The same values either way.
    /// `scratch`: the calling worker's decode and transform buffers.
    func loadShard(step k: Int, from: Int, count: Int, scratch: SampleScratch, input: UnsafeMutablePointer<Float>,
                   labels: UnsafeMutablePointer<Int32>) {
        if inWorkers {
            let base = (first + k) * batch + part.lowerBound + from
            set.fill(UnsafeBufferPointer(start: order + base, count: count), input: input, labels: labels,
                     epoch: epoch, seed: seed, scratch: scratch)
            return
        }
        Self.wait { self.filled.load(ordering: .acquiring) > k }
        let per = set.shape.count
        input.update(from: inputs[k % 2].pointer + from * per, count: count * per)
        labels.update(from: self.labels[k % 2].pointer + from, count: count)
    }

    private func loop() {
        let scratch = SampleScratch()
        while true {
            start.wait()
            if stopping.load(ordering: .acquiring) { return }
            for k in 0..<(inWorkers ? 0 : count) {
                // Buffer k % 2 last held step k - 2: sleep until it is consumed.
                while consumed.load(ordering: .acquiring) < k - 1 && !cancelled.load(ordering: .acquiring) {
                    _ = released.wait(timeout: .now() + .milliseconds(5))
                }
                if cancelled.load(ordering: .acquiring) { break }
                let base = (first + k) * batch + part.lowerBound
                set.fill(UnsafeBufferPointer(start: order + base, count: part.count), input: inputs[k % 2].pointer,
                         labels: labels[k % 2].pointer, epoch: epoch, seed: seed, scratch: scratch)
                filled.store(k + 1, ordering: .releasing)
            }
            busy.store(false, ordering: .releasing)
        }
    }

    /// Spins briefly, then sleeps in growing naps (up to 0.2 ms), until
    /// `condition` holds. Workers rarely wait here: the pipeline runs ahead.
    private static func wait(_ condition: () -> Bool) {
        var polls = 0
        while !condition() {
            polls += 1
            if polls > 1000 { usleep(UInt32(min(200, (polls - 1000) * 10))) }
        }
    }
}
