import PTrainKernels

/// The prepared weights (`InferencePreparing`) of one model's inference
/// networks over one parameter arena: one region per preparing layer, in
/// one buffer allocated with the networks (never during evaluation).
///
/// Networks that read the same parameter arena (a process's evaluation
/// networks under synchronous SGD) share one store, prepared once per
/// evaluation before any of them runs and only read while they run; under
/// parameter averaging each worker's arena has its own. A store is either
/// prepared from the current weights or stale: `Network.forward(training:
/// false)` refuses to run on a stale one, so weights changed without a new
/// `prepare` can never be read through an old copy.
public final class InferenceWeights {
    /// The arena the prepared weights are computed from.
    public let parameters: FloatBuffer
    /// Per model layer, its region's offset in `buffer` (nil: not preparing).
    private let offsets: [Int?]
    private let buffer: FloatBuffer
    /// The preparations' scratch and GEMM buffers (the largest any layer
    /// needs; no GEMM workspace when none needs scratch).
    private let scratch: FloatBuffer
    private let gemm: GEMMWorkspace?
    /// Whether `buffer` holds the prepared form of the current weights.
    public private(set) var isPrepared = false

    /// Floats a store for `model` holds (0 when no layer prepares anything).
    public static func floats(for model: Model) -> Int {
        model.layers.reduce(0) { $0 + (($1 as? InferencePreparing)?.preparedFloats ?? 0) }
    }

    /// A store for `model`'s layers over `parameters`; nil when no layer of
    /// `model` prepares anything. Its floats are part of a network's
    /// footprint (`NetworkFootprint`), which `MemoryEstimate` checks first.
    public init?(model: Model, parameters: FloatBuffer) {
        var offsets = [Int?](), total = 0, scratchFloats = 0
        for layer in model.layers {
            let preparing = layer as? InferencePreparing
            let n = preparing?.preparedFloats ?? 0
            offsets.append(n > 0 ? total : nil)
            total += n
            if n > 0 { scratchFloats = max(scratchFloats, preparing!.preparationScratchFloats) }
        }
        guard total > 0 else { return nil }
        self.parameters = parameters
        self.offsets = offsets
        buffer = FloatBuffer(count: total)
        scratch = FloatBuffer(count: scratchFloats)
        gemm = scratchFloats > 0 ? GEMMWorkspace() : nil
    }

    /// Layer `index`'s region (nil: it prepares nothing).
    func region(_ index: Int) -> UnsafePointer<Float>? {
        offsets[index].map { UnsafePointer(buffer.pointer + $0) }
    }

    /// Prepares every region from `network`'s layers (bound to `parameters`).
    func prepare(using network: Network) {
        precondition(network.parameters === parameters, "prepared inference weights belong to one parameter arena")
        for (i, layer) in network.model.layers.enumerated() {
            guard let at = offsets[i], let preparing = layer as? InferencePreparing else { continue }
            preparing.prepareInference(into: buffer.pointer + at, scratch: scratch.pointer, gemm: gemm)
        }
        isPrepared = true
    }

    /// Marks the store stale: the weights are about to change.
    public func invalidate() { isPrepared = false }
}
