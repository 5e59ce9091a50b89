import Foundation
import PTrain

/// The full training state of a `DataParallelEngine` between steps, as a
/// checkpoint stores it: every replica's parameters and optimizer state
/// (momentum, or Adam's moments and update count) where they differ. Synchronous SGD has one replica. Parameter averaging has one per
/// worker; they are equal right after an averaging point that also averages
/// momentum (`sync.momentum: average`), and differ between averaging points
/// and always in momentum with `sync.momentum: local`, so a checkpoint that
/// kept replica 0 alone could not continue the run exactly.
public struct EngineSnapshot: Sendable {
    /// Replica 0 first; a single element when every replica equals it.
    public var replicas: [Checkpoint.Replica]
    /// False when other processes of the job hold replicas that differ from
    /// these (multi-process parameter averaging between averaging points):
    /// the snapshot alone cannot continue the run exactly.
    public var complete: Bool
    /// A bilevel search's architecture updates so far (its Adam moments are
    /// in replica 0's optimizer tensors, `arch_exp_avg*`); nil otherwise.
    public var architectureSteps: Int?
}

extension DataParallelEngine {
    /// The training state now (call between runs of steps, never during one).
    public func snapshot() -> EngineSnapshot {
        let layout = model.layout
        func same(_ a: FloatBuffer, _ b: FloatBuffer) -> Bool { memcmp(a.pointer, b.pointer, a.count * MemoryLayout<Float>.size) == 0 }
        let differ = (1..<parameterArenas.count).contains {
            !same(parameterArenas[$0], parameterArenas[0]) || !same(optimizerStates[$0], optimizerStates[0])
                || optimizerSteps[$0] != optimizerSteps[0]
        }
        let held = differ ? parameterArenas.count : 1
        var replicas = (0..<held).map {
            Checkpoint.Replica(weights: layout.tensors(from: parameterArenas[$0].pointer),
                               momentum: optimizerStep.stateTensors(from: optimizerStates[$0].pointer, layout: layout),
                               steps: optimizerSteps[$0])
        }
        if let architecture { replicas[0].momentum += architecture.stateTensors(layout: layout) }
        return EngineSnapshot(replicas: replicas, complete: group.size == 1 || replicasAgree, architectureSteps: architecture?.steps)
    }

    /// Continues from `replicas` (a checkpoint's, replica 0 first): one
    /// replica is copied into every replica of this engine; several must be
    /// exactly one per replica. `file` names the checkpoint in errors.
    /// `architectureSteps`: the checkpoint's count of architecture updates
    /// (a bilevel search's; required when this engine runs one).
    public func restore(_ replicas: [Checkpoint.Replica], architectureSteps: Int? = nil, file: String) throws {
        let layout = model.layout
        guard replicas.count == 1 || replicas.count == parameterArenas.count else {
            throw RunError("\(file): the checkpoint holds \(replicas.count) parameter-averaging replicas (one per worker of the run that wrote it); this run has \(parameterArenas.count); resume with --workers \(replicas.count)")
        }
        for (i, arena) in parameterArenas.enumerated() {
            let r = replicas[replicas.count == 1 ? 0 : i]
            let suffix = i == 0 ? "" : " (replica \(i))"
            try layout.load(r.weights, into: arena.pointer, file: "\(file)/weights\(suffix)")
            let (searchState, momentum) = (r.momentum.filter { ArchitectureSearch.isArchitectureState($0.name) },
                                           r.momentum.filter { !ArchitectureSearch.isArchitectureState($0.name) })
            try optimizerStep.loadState(momentum, into: optimizerStates[i].pointer, layout: layout, file: "\(file)/optimizer\(suffix)")
            if i == 0, let architecture {
                guard let architectureSteps else {
                    throw RunError("\(file): the checkpoint has no architecture update count (architectureSteps in state.json): it was not written by a bilevel search (train.architecture)")
                }
                try architecture.loadState(searchState, layout: layout, file: "\(file)/optimizer")
                architecture.steps = architectureSteps
            }
            optimizerSteps[i] = r.steps
        }
        replicasAgree = replicas.count == 1
    }
}
