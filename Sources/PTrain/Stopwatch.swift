import Dispatch

/// Monotonic wall-clock time in seconds.
public func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// Accumulates elapsed seconds of one kind of work across calls.
public struct Stopwatch: Sendable {
    public private(set) var total: Double = 0
    private var started: Double = 0
    public init() {}
    public mutating func start() { started = monotonicSeconds() }
    public mutating func stop() { total += monotonicSeconds() - started }
    public mutating func reset() { total = 0 }
}
