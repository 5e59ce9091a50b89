import Foundation

/// The processes of one training job (MPI ranks; normally one per machine),
/// as the engine and trainer see them. Each process runs its own pinned
/// workers on its part of every global batch; this is the narrow interface
/// through which the processes agree.
///
/// Every method is collective: all ranks call it at the same point of the run
/// with the same sizes, or the job hangs (an MPI group aborts it then, see
/// `PTrainMPI`). Failures are not returned: a rank that cannot exchange prints
/// the error with its rank and ends the whole job, so no rank waits forever.
///
/// Determinism: `treeSum` adds the ranks' buffers in the canonical tree of
/// `ShardPlan` (`T(lo, hi) = T(lo, mid) + T(mid, hi)`), elementwise, and every
/// rank gets the same bits. When R is a power of two, rank r's workers hold the
/// subtree of global workers `[r W, (r + 1) W)`, so R processes of W workers
/// sum exactly like one process of R x W workers.
public protocol ProcessGroup: AnyObject, Sendable {
    /// This process's rank, `0 ..< size`. Rank 0 alone writes files and prints.
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `buffer[0 ..< count]` on every rank by the canonical tree sum
    /// over ranks. Called by one thread of each process at a time.
    func treeSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    /// Replaces `values[0 ..< count]` by their sums over ranks, added in rank
    /// order (the same bits on every rank).
    func sum(_ values: UnsafeMutablePointer<Double>, count: Int)
    /// Bitwise OR of `flags` over ranks: how ranks agree on decisions that
    /// each could reach alone (a signal arrived, a time limit passed).
    func any(_ flags: Int32) -> Int32
    /// Ends every process of the job with `message` (printed with the rank).
    func abort(_ message: String) -> Never
}

extension ProcessGroup {
    /// `sum` of one value.
    public func sum(_ value: Double) -> Double {
        var v = value
        sum(&v, count: 1)
        return v
    }

    /// True on every rank when `flag` is true on any.
    public func any(_ flag: Bool) -> Bool { any(flag ? 1 : 0) != 0 }

    /// "rank 1 of 4: " in a multi-process job, "" otherwise.
    public var messagePrefix: String { size > 1 ? "rank \(rank) of \(size): " : "" }
}

/// A job of one process: every collective is the identity.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func treeSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
    public func sum(_ values: UnsafeMutablePointer<Double>, count: Int) {}
    public func any(_ flags: Int32) -> Int32 { flags }
    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(1)
    }
}
