import Synchronization

/// A flag any thread may raise (signal handlers) and the engine reads
/// between steps.
public final class InterruptFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    public init() {}
    public func request() { raised.store(true, ordering: .relaxed) }
    public var isRequested: Bool { raised.load(ordering: .relaxed) }
    func clear() { raised.store(false, ordering: .relaxed) }
}
