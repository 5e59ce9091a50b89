import PTrainKernels

/// Where each parameter tensor lives in the flat arenas. Parameters of the
/// whole model are ONE contiguous Float buffer and gradients a second buffer
/// with the same layout, so the optimizer, the gradient reduction, parameter
/// averaging and checkpointing are single passes over contiguous memory.
public struct ParameterLayout: Sendable {
    public struct Entry: Sendable, Hashable {
        /// PyTorch `state_dict` key, e.g. `0.weight`.
        public let name: String
        public let shape: [Int]
        /// Offset in floats from the arena's start; a multiple of `alignment`.
        public let offset: Int
        public let initializer: Initializer
        public let layerIndex: Int
        /// nil for trainable tensors; see `ParameterSpec.runningAverageMomentum`.
        public let runningAverageMomentum: Float?
        /// Weight or architecture parameter; see `ParameterRole`.
        public let role: ParameterRole
        public var count: Int { shape.reduce(1, *) }
        public var range: Range<Int> { offset..<offset + count }
    }

    /// Tensor offsets are multiples of 16 floats (64 bytes: one cache line,
    /// one AVX-512 vector), so a tensor never shares a line with another.
    public static let alignment = 16

    /// One entry per tensor, in arena order: every layer's own tensors in
    /// layer order, then the architecture parameters (`ParameterRole.architecture`),
    /// so those are one contiguous range (`architectureRange`) that the
    /// bilevel search reduces and updates by itself.
    public let entries: [Entry]
    /// `layerOffsets[l][k]`: the arena offset of layer l's k-th parameter
    /// spec (a shared spec's tensor is the same offset for every layer).
    public let layerOffsets: [[Int]]
    /// Arena size in floats, padding included.
    public let totalCount: Int

    /// Every spec with the same `shared` name must have the same shape and
    /// role (`ModelSpec.build` checks and reports it).
    public init(layers: [any Layer]) {
        var entries: [Entry] = []
        var offset = 0
        var sharedOffsets: [String: Int] = [:]
        var layerOffsets = layers.map { [Int](repeating: -1, count: $0.parameterSpecs.count) }
        for pass in [ParameterRole.weight, .architecture] {
            for (index, layer) in layers.enumerated() {
                for (k, spec) in layer.parameterSpecs.enumerated() where spec.role == pass {
                    if let key = spec.shared, let known = sharedOffsets[key] {
                        precondition(entries.first { $0.offset == known }!.shape == spec.shape)
                        layerOffsets[index][k] = known
                        continue
                    }
                    entries.append(Entry(name: spec.shared ?? "\(layer.name).\(spec.name)", shape: spec.shape, offset: offset,
                                         initializer: spec.initializer, layerIndex: index,
                                         runningAverageMomentum: spec.runningAverageMomentum, role: spec.role))
                    if let key = spec.shared { sharedOffsets[key] = offset }
                    layerOffsets[index][k] = offset
                    offset += (spec.count + Self.alignment - 1) / Self.alignment * Self.alignment
                }
            }
        }
        self.entries = entries
        self.layerOffsets = layerOffsets
        totalCount = offset
    }

    /// The floats of the architecture parameters (empty when there is none).
    public var architectureRange: Range<Int> {
        let arch = entries.filter { $0.role == .architecture }
        guard let first = arch.first, let last = arch.last else { return totalCount..<totalCount }
        return first.offset..<last.offset + (last.count + Self.alignment - 1) / Self.alignment * Self.alignment
    }

    /// Weight count (padding, running statistics and architecture parameters excluded).
    public var parameterCount: Int {
        entries.reduce(0) { $0 + ($1.runningAverageMomentum == nil && $1.role == .weight ? $1.count : 0) }
    }

    /// The architecture-parameter tensors (`ParameterRole.architecture`) in
    /// arena order: the weight optimizer leaves them alone.
    public var architectureParameters: [Entry] { entries.filter { $0.role == .architecture } }

    /// The running-statistic tensors in arena order, which the optimizer
    /// averages instead of stepping.
    public var runningStatistics: [Entry] { entries.filter { $0.runningAverageMomentum != nil } }

    /// Fills the arena from the initialisers; tensor `i` draws from the stream
    /// keyed by `(seed, i)`, so values depend only on the seed and the model.
    public func initialize(_ arena: FloatBuffer, seed: UInt64) {
        precondition(arena.count == totalCount)
        arena.zero()
        for (index, entry) in entries.enumerated() {
            var rng = CounterRNG(seed: seed, stream: .initialisation, UInt64(index))
            let p = arena.pointer + entry.offset
            switch entry.initializer {
            case .zeros: break
            case .ones: for i in 0..<entry.count { p[i] = 1 }
            case .uniform(let bound): for i in 0..<entry.count { p[i] = (2 * rng.uniform() - 1) * bound }
            case .normal(let std): for i in 0..<entry.count { p[i] = rng.normal() * std }
            }
        }
    }

    /// Name of the first tensor of `arena` holding a NaN or infinity, or nil.
    public func firstNonFiniteTensor(in arena: FloatBuffer) -> String? {
        firstNonFiniteTensor(in: UnsafePointer(arena.pointer))
    }

    /// Same, for an arena of `totalCount` floats given by its pointer.
    public func firstNonFiniteTensor(in arena: UnsafePointer<Float>) -> String? {
        // Fast path: the sum of finite values is finite unless it overflows.
        if sum(arena, count: totalCount).isFinite { return nil }
        for e in entries {
            for i in 0..<e.count where !arena[e.offset + i].isFinite { return e.name }
        }
        return nil
    }
}
