import Synchronization

/// The bad images a `SampleSet` met while filling samples, from any thread:
/// the first error (what a run that stops reports) and how many were
/// skipped (`data.on_bad_image: skip`; the trainer reports and resets the
/// count every epoch).
public final class DataFailures: Sendable {
    private let firstError = Mutex<DataError?>(nil)
    private let firstSkipped = Mutex<DataError?>(nil)
    private let skipped = Atomic<Int>(0)
    private let failed = Atomic<Bool>(false)

    public init() {}

    /// Records `error`: a skipped image is counted (its first message kept
    /// as an example); any other stops the run (the first one is kept).
    func record(_ error: DataError, skipped isSkipped: Bool) {
        if isSkipped {
            skipped.add(1, ordering: .relaxed)
            firstSkipped.withLock { if $0 == nil { $0 = error } }
        } else {
            firstError.withLock { if $0 == nil { $0 = error } }
            failed.store(true, ordering: .releasing)
        }
    }

    /// Whether a bad image must stop the run (cheap: polled every step).
    public var hasFailed: Bool { failed.load(ordering: .acquiring) }
    /// The error that stops the run, if any.
    public var error: DataError? { firstError.withLock { $0 } }

    /// Images skipped since the last call, and the first one's message.
    public func takeSkipped() -> (count: Int, example: DataError?) {
        let n = skipped.exchange(0, ordering: .relaxed)
        let example = firstSkipped.withLock { e -> DataError? in let x = e; e = nil; return x }
        return (n, example)
    }
}
