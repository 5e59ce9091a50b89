/// Which NUMA node holds each worker's memory.
///
/// The engine allocates every large buffer as untouched pages (`FloatBuffer`)
/// and has each worker write its own first, on its own thread, after the
/// thread is pinned. Under Linux's default policy a page lives on the node of
/// the thread that first touches it, so the node is decided by the placement
/// alone: worker w's core's node holds
/// - its gradient arena, its part of the gradient tree (partial sums, or
///   its block of the dynamic schedule's leaves), its activations and layer
///   scratch;
/// - slice w of the shared parameter and optimizer-state arenas in
///   synchronous SGD (`ShardPlan.slice`: the slice worker w reduces and
///   updates), or its whole replica under parameter averaging.
/// An unbound worker's pages go wherever the kernel runs it at that moment.
/// On a one-node machine every answer is node 0 and nothing changes.
public struct MemoryPlacement: Sendable, Equatable {
    /// `nodes[w]`: OS index of the NUMA node of worker w's memory; nil when
    /// the worker is unbound or its core has no NUMA node.
    public let nodes: [Int?]

    /// `placements` of workers 0..<n, in worker order (what `plan` returns).
    public init(_ placements: [Placement]) {
        nodes = placements.map(Self.node)
    }

    /// The node of one worker's memory: its core's, when it is pinned.
    public static func node(_ placement: Placement) -> Int? { placement.core?.numaNode }

    /// The workers (ascending) whose memory is on each node, nodes ascending;
    /// workers with no node are left out.
    public var workersPerNode: [(node: Int, workers: [Int])] {
        var byNode: [Int: [Int]] = [:]
        for (w, node) in nodes.enumerated() { if let node { byNode[node, default: []].append(w) } }
        return byNode.keys.sorted().map { ($0, byNode[$0]!) }
    }

    /// One line: "NUMA node 0: workers 0-3; NUMA node 1: workers 4-7 (each
    /// worker's arenas and its parameter slice)", or why there is no answer.
    public var summary: String {
        let groups = workersPerNode
        guard !groups.isEmpty else { return "memory: unbound workers, pages go where the kernel first runs each worker" }
        let parts = groups.map { "NUMA node \($0.node): worker\($0.workers.count == 1 ? "" : "s") \(formatIndexList($0.workers))" }
        return "memory: " + parts.joined(separator: "; ") + " (each worker's arenas and its parameter slice, first touched after pinning)"
    }
}
