import Dispatch
import Foundation
import Synchronization

/// Turns SIGINT/SIGTERM into "finish the current step, checkpoint, exit 0"
/// and SIGUSR1 into "checkpoint and continue". A second SIGINT exits at once
/// (status 130). Handlers run on a Dispatch queue, never in signal context;
/// `onSignal` is how they reach the training loop (it interrupts the engine's
/// current run of steps, so all workers stop together after the same step).
public final class SignalMonitor: @unchecked Sendable {
    public enum Request: Int { case none = 0, checkpoint = 1, stop = 2 }
    private let pending = Atomic<Int>(0)
    private let interrupts = Atomic<Int>(0)
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "ptrain.signals")

    public init(onSignal: @escaping @Sendable (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM, SIGUSR1] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [unowned self] in
                if sig == SIGINT && self.interrupts.wrappingAdd(1, ordering: .relaxed).newValue >= 2 {
                    FileHandle.standardError.write(Data("\nsecond SIGINT: exiting now without a checkpoint\n".utf8))
                    _exit(130)
                }
                let request: Request = sig == SIGUSR1 ? .checkpoint : .stop
                // A stop request is never downgraded to a checkpoint request.
                _ = self.pending.compareExchange(expected: Request.none.rawValue, desired: request.rawValue, ordering: .relaxed)
                if request == .stop { self.pending.store(Request.stop.rawValue, ordering: .relaxed) }
                onSignal(sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The pending request, cleared (a stop stays pending).
    public func take() -> Request {
        let r = Request(rawValue: pending.load(ordering: .relaxed)) ?? .none
        if r == .checkpoint { pending.store(Request.none.rawValue, ordering: .relaxed) }
        return r
    }

    /// Restores the default dispositions.
    public func cancel() {
        sources.forEach { $0.cancel() }
        sources.removeAll()
        for sig in [SIGINT, SIGTERM, SIGUSR1] { signal(sig, SIG_DFL) }
    }

    deinit { cancel() }
}
