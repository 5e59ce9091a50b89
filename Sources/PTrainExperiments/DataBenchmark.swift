import Foundation
import PTrain
import PTrainData

/// Throughput of the input pipeline alone (`ptrain bench-data`): the
/// training set's samples read, decoded, transformed and written as model
/// inputs, in batches, on `threads` threads (each with its own scratch, as
/// the workers have), with no model. Reports images/s per round and per
/// thread: what one core can feed.
public struct DataBenchmark: Sendable {
    public let threads: Int, batch: Int, samples: Int, rounds: Int

    public init(threads: Int, batch: Int, samples: Int, rounds: Int) {
        self.threads = threads; self.batch = batch; self.samples = samples; self.rounds = rounds
    }

    public struct Report: Sendable {
        /// Images per second of each round (all threads together).
        public let imagesPerSecond: [Double]
        public let threads: Int, samples: Int
        public let rssMB: Double
        /// Images skipped as bad (`on_bad_image: skip`) over all rounds.
        public let skipped: Int
        public var median: Double { imagesPerSecond.sorted()[imagesPerSecond.count / 2] }
        public var perThread: Double { median / Double(threads) }
    }

    /// Round r fills samples of epoch r's order (so caches see fresh draws,
    /// and with folders files are read again as they would be every epoch).
    public func run(_ set: SampleSet, seed: UInt64) throws -> Report {
        let n = min(samples, set.count)
        let buffers = (0..<threads).map { _ in ThreadBuffers(floats: batch * set.shape.count, batch: batch) }
        var rates: [Double] = []
        var skipped = 0
        for round in 0..<rounds {
            let order = epochPermutation(count: set.count, seed: seed, epoch: round)
            let t0 = monotonicSeconds()
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let (input, labels, scratch) = (buffers[t].input, buffers[t].labels, buffers[t].scratch)
                // Thread t fills batches t, t + threads, ... of the first n samples.
                var start = t * batch
                while start < n {
                    let count = min(batch, n - start)
                    set.fill(order[start..<(start + count)], input: input.pointer, labels: labels.pointer,
                             epoch: round, seed: seed, scratch: scratch)
                    start += threads * batch
                }
            }
            rates.append(Double(n) / (monotonicSeconds() - t0))
            if let error = set.failures.error { throw error }
            skipped += set.failures.takeSkipped().count
        }
        return Report(imagesPerSecond: rates, threads: threads, samples: n, rssMB: Benchmark.peakRSSMegabytes(), skipped: skipped)
    }
}

/// One benchmark thread's batch buffers and sample scratch: each instance is
/// used by exactly one thread of `concurrentPerform` (index t), never shared.
private final class ThreadBuffers: @unchecked Sendable {
    let input: FloatBuffer, labels: Int32Buffer, scratch = SampleScratch()
    init(floats: Int, batch: Int) { input = FloatBuffer(count: floats); labels = Int32Buffer(count: batch) }
}
