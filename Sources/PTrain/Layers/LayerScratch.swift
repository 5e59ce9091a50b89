/// Scratch floats shared by the layers of one replica (the convolutions'
/// workspaces, `Layer.scratchFloats`). A replica runs one layer pass at a
/// time, so one region the size of the largest need serves every layer,
/// where a region per layer would cost their sum; a worker's training and
/// evaluation networks share one too (they never run at once).
///
/// The contents are undefined when a pass starts: a pass must not read what
/// an earlier pass (its own layer's included) left there, and zeroes what
/// it needs zero. 64-byte aligned.
public final class LayerScratch: @unchecked Sendable {
    private var storage = FloatBuffer(count: 0)

    public init() {}

    /// Floats held.
    public var count: Int { storage.count }

    /// Grows to at least `floats` (an allocation: `Network` reserves its
    /// layers' largest need when it is built, so no step grows it).
    public func reserve(_ floats: Int) {
        if floats > storage.count { storage = FloatBuffer(count: floats) }
    }

    /// The scratch, at least `floats` of it: grown first when a layer runs
    /// outside a `Network` that reserved for it (a filter, a test).
    public func floats(_ floats: Int) -> UnsafeMutablePointer<Float> {
        reserve(floats)
        return storage.pointer
    }
}

extension Model {
    /// The scratch floats a replica of this model reserves for shards of up
    /// to `maxBatch` samples: the largest of its layers' needs.
    public func scratchFloats(maxBatch: Int) -> Int {
        layers.map { $0.scratchFloats(maxBatch: maxBatch) }.max() ?? 0
    }
}
