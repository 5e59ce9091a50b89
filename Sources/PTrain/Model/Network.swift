import PTrainKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One replica of a model ready to run: the model's layers bound to a
/// parameter arena and a gradient arena, plus activation and activation-gradient
/// buffers for shards of up to `maxBatch` samples. Everything a step touches is
/// allocated here, once.
///
/// Graph models: each layer reads the nodes `model.inputs` names. A node read
/// by several layers accumulates their gradients; its gradient buffer is
/// zeroed just before the backward of its last reader (the first to write it).
/// A `Concat` input whose producer can write strided output, and whose other
/// readers can read strided input, is stored IN PLACE as a channel slice of
/// the concatenation (DenseNet's growing feature map costs one buffer, not a
/// copy per layer).
///
/// Not thread-safe: one `Network` per worker thread. Several networks may share
/// one parameter arena (synchronous SGD) while each owns its gradient arena.
public final class Network {
    public let model: Model
    public let maxBatch: Int
    public let context: StepContext
    /// `[maxBatch, input]`: the caller writes a shard's samples here.
    public let input: FloatBuffer
    /// `[maxBatch]`: the shard's labels.
    public let labels: Int32Buffer
    public let parameters: FloatBuffer
    /// The gradient arena; nil for an inference-only network.
    public let gradients: FloatBuffer?
    /// `train.label_smoothing` (softmax cross-entropy's target; 0: one-hot),
    /// applied by `loss` to training networks.
    public var labelSmoothing: Float = 0
    /// Value buffers: one per owner (`owner[i] == i`) in a training network,
    /// which keeps every activation for backward; shared by owners never live
    /// at once in an inference-only network. `valueSlot[r]` is owner r's
    /// (in a training network a residual join's is its input's, `StoragePlan.valueHost`).
    private let values: [FloatBuffer]
    private let valueSlot: [Int]
    /// Gradient buffers, shared by owners whose gradients are never live at
    /// once (`StoragePlan.sharedSlot`); empty for inference-only networks.
    private let deltas: [FloatBuffer]
    private let gradientSlot: [Int]
    /// Where node i lives: in node `owner[i]`'s buffers, `offset[i]` floats
    /// into each sample, samples `sampleStride[i]` floats apart.
    private let owner: [Int], offset: [Int], sampleStride: [Int]
    /// `zeroBefore[i]`: owners whose gradient buffer is zeroed before layer i's backward.
    private let zeroBefore: [[Int]]
    /// Identity layers and fused relus, stored as their input and never run (StoragePlan).
    private let skipped: [Bool]
    /// The names of the relus fused into the layer before them (`ReLUFusable`).
    public let fusedReLUs: [String]
    /// Activation floats stored per sample: the outputs of the nodes that own
    /// storage (training), or the shared buffers (inference-only).
    public let storedFloatsPerSample: Int
    /// Floats of layer scratch this network's passes use: the largest of its
    /// layers' (`context.scratch` holds at least this many).
    public let scratchFloats: Int
    /// Activation-gradient floats stored per sample (shared buffers).
    public var storedGradientFloatsPerSample: Int { deltas.reduce(0) { $0 + $1.count } / max(maxBatch, 1) }
    /// The prepared weights of an inference-only network's
    /// `InferencePreparing` layers (nil: none, or a training network):
    /// `prepareInference()` fills them from the current weights before
    /// inference runs (docs/architecture.md, "Prepared inference weights").
    public let inferenceWeights: InferenceWeights?
    /// The model's `InferencePreparing` layers and their indices.
    private let preparing: [(Int, InferencePreparing)]
    /// When set, forward and backward add each layer's wall time (seconds)
    /// here: `[2 * layers]`, forward times then backward times.
    public var profile: UnsafeMutablePointer<Double>?

    /// `gradients: nil` builds an inference-only network: no gradient arena
    /// and no activation-gradient buffers (half the memory); `backward` and
    /// `loss(gradScale:)` must not be called on it. `fuseReLU: false` runs
    /// every relu as a layer of its own (the same results; for tests and
    /// measurements), `inPlaceJoins: false` stores every residual join's
    /// values apart from its input (`StoragePlan.valueHost`; likewise),
    /// `foldNorms: false` runs an inference network's batch norms and the
    /// residual adds after convolutions as layers of their own (likewise;
    /// `StoragePlan.foldedNorm`, `foldedResidual`), `chainWinograd: false`
    /// stores every convolution's output NCHW (likewise; `StoragePlan.planesFor`),
    /// `foldPools: false` runs every max pool after a convolution as a layer
    /// of its own (likewise, up to NaN and the sign of a zero; `StoragePlan.foldedPool`),
    /// `routePoolGradients: false` lets a max pool after the first
    /// convolution scatter its gradient for the convolution's backward
    /// (the same sums in another order; `Conv2D.routedPool`). `overwriteGradients:
    /// false` zeroes every activation gradient and lets every backward add
    /// into it (likewise; `InputGradientOverwriting`). `scratch`: another
    /// network's layer scratch, to share
    /// (networks that never run at once: a worker's training and evaluation
    /// networks); nil: its own. `precision` (`runtime.precision`): of the
    /// GEMMs (bf16 needs `BF16Support.available`; the caller checks).
    /// `batchGradients`: the dense layers whose weight gradients the step
    /// computes over the whole batch; `gradients` is then a compact arena of
    /// the other tensors (`BatchWeightGradients.compactCount`).
    /// `inferenceWeights`: an inference-only network's prepared weights
    /// (over `parameters`, possibly shared with other networks over them);
    /// nil: none, every layer computes its inference from the weights as in
    /// training.
    public init(model: Model, maxBatch: Int, parameters: FloatBuffer, gradients: FloatBuffer?, seed: UInt64,
                fuseReLU: Bool = true, inPlaceJoins: Bool = true, foldNorms: Bool = true, chainWinograd: Bool = true,
                foldPools: Bool = true, overwriteGradients: Bool = true, routePoolGradients: Bool = true,
                scratch: LayerScratch? = nil,
                precision: ComputePrecision = .fp32, batchGradients: BatchWeightGradients? = nil,
                inferenceWeights: InferenceWeights? = nil) {
        precondition(parameters.count == model.layout.totalCount)
        precondition((gradients?.count ?? model.layout.totalCount) == (batchGradients?.compactCount ?? model.layout.totalCount))
        precondition(batchGradients == nil || gradients != nil, "an inference-only network has no gradients")
        self.model = model
        self.maxBatch = maxBatch
        self.parameters = parameters
        self.gradients = gradients
        precondition(inferenceWeights == nil || gradients == nil, "prepared inference weights are for inference-only networks")
        precondition(inferenceWeights.map { $0.parameters === parameters } ?? true,
                     "prepared inference weights belong to one parameter arena")
        self.inferenceWeights = inferenceWeights
        preparing = model.layers.indices.compactMap { i in (model.layers[i] as? InferencePreparing).map { (i, $0) } }
        context = StepContext(seed: seed, maxBatch: maxBatch, scratch: scratch, precision: precision)
        // Before any layer plans (scratch sizes depend on the algorithms).
        for case let layer as PrecisionSelectable in model.layers { layer.precision = precision }
        let layerScratch = model.scratchFloats(maxBatch: maxBatch)
        context.scratch.reserve(layerScratch)
        input = FloatBuffer(count: maxBatch * model.inputShape.count)
        labels = Int32Buffer(count: maxBatch)
        let layers = model.layers, n = layers.count
        let plan = StoragePlan(model: model, fuseReLU: fuseReLU, inPlaceJoins: inPlaceJoins,
                               foldNorms: gradients == nil && foldNorms, chainWinograd: chainWinograd, foldPools: foldPools,
                               routePools: gradients != nil && routePoolGradients)
        owner = plan.owner; offset = plan.offset; sampleStride = plan.sampleStride; skipped = plan.skipped
        fusedReLUs = layers.indices.filter { plan.skipped[$0] && layers[$0] is ReLU }.map { layers[$0].name }
        if gradients == nil {
            values = plan.slotSizes.map { FloatBuffer(count: maxBatch * $0) }
            valueSlot = plan.sharedSlot
        } else {
            // One buffer per owner that hosts its own values; a join written
            // over its input uses that input's (`StoragePlan.valueHost`).
            let hosts = (0..<n).filter { plan.owner[$0] == $0 && plan.valueHost[$0] == $0 }
            values = hosts.map { FloatBuffer(count: maxBatch * layers[$0].outputShape.count) }
            var slot = [Int](repeating: -1, count: n)
            for (k, r) in hosts.enumerated() { slot[r] = k }
            for r in 0..<n where plan.owner[r] == r && plan.valueHost[r] != r { slot[r] = slot[plan.valueHost[r]] }
            valueSlot = slot
        }
        deltas = gradients == nil ? [] : plan.slotSizes.map { FloatBuffer(count: maxBatch * $0) }
        gradientSlot = plan.sharedSlot
        storedFloatsPerSample = values.reduce(0) { $0 + $1.count } / max(maxBatch, 1)
        for (i, layer) in layers.enumerated() {
            // Every time: a model's layers may have served another network before.
            if let strided = layer as? StridedOutputLayer { strided.outputSampleStride = plan.sampleStride[i] }
            if let reader = layer as? StridedInputLayer, let source = model.inputs[i].first, source >= 0 {
                reader.inputSampleStride = plan.sampleStride[source]
            }
            if let fusable = layer as? ReLUFusable { fusable.rectifiesOutput = plan.rectifies[i] }
            if let conv = layer as? Conv2D { conv.foldedNorm = plan.foldedNorm[i].map { layers[$0] as! BatchNorm } }
        }
        for case let conv as Conv2D in layers {
            conv.outputPlanes = nil; conv.inputPlanesStride = nil; conv.foldedPool = nil; conv.readerMasksGradient = false
            conv.routedPool = nil
        }
        for (p, masks) in plan.poolMasks.enumerated() {
            guard let pool = layers[p] as? MaxPool2D else { continue }
            pool.masksRectifiedInput = masks
            pool.gradientRouted = false
            if masks, let conv = layers[plan.owner[model.inputs[p][0]]] as? Conv2D { conv.readerMasksGradient = true }
        }
        let routed = plan.routedPools
        for (_, p) in routed { (layers[p] as! MaxPool2D).gradientRouted = true }
        scratchFloats = max(layerScratch, plan.routedScratchFloats(model))
        context.scratch.reserve(scratchFloats)
        for (j, p) in plan.foldedPool.enumerated() {
            guard let p, let conv = layers[j] as? Conv2D else { continue }
            conv.foldedPool = (layers[p] as! MaxPool2D)
        }
        for (j, k) in plan.planesFor.enumerated() {
            guard let k, let producer = layers[j] as? Conv2D, let consumer = layers[k] as? Conv2D else { continue }
            producer.outputPlanes = consumer.winogradInputLayout
            producer.outputSampleStride = plan.sampleStride[j]
            consumer.inputPlanesStride = plan.sampleStride[j]
        }
        // Gradients their first writer writes instead of adding into: not zeroed.
        var zeroing = plan.zeroBefore
        for (i, layer) in layers.enumerated() where gradients != nil {
            guard let writer = layer as? InputGradientOverwriting else { continue }
            var overwrites = [Bool](repeating: false, count: model.inputs[i].count)
            for k in plan.overwritable[i] where overwriteGradients && writer.canOverwriteInputGradient(k) {
                overwrites[k] = true
                let r = plan.owner[model.inputs[i][k]]
                zeroing[i].removeAll { $0 == r }
            }
            writer.overwritesInputGradient = overwrites
        }
        zeroBefore = zeroing
        for (index, layer) in layers.enumerated() {
            layer.allocate(maxBatch: maxBatch)
            let offsets = model.layout.layerOffsets[index]
            let gradientPointers: [UnsafeMutablePointer<Float>]
            if let batchGradients, let gradients {
                // A deferred layer's gradient lives in the step's summed arena
                // (written by `reduce`, never by the layer); the others are compacted.
                let deferred = batchGradients.slot(layer: index)
                (layer as? Dense)?.batchGradient = deferred
                gradientPointers = offsets.map {
                    deferred != nil ? batchGradients.target.pointer + $0 : gradients.pointer + batchGradients.compactOffset($0)!
                }
            } else {
                gradientPointers = offsets.map { (gradients ?? parameters).pointer + $0 }
            }
            layer.bind(parameters: offsets.map { parameters.pointer + $0 }, gradients: gradientPointers)
        }
        for (i, layer) in layers.enumerated() {
            guard let join = layer as? MultiInputLayer else { continue }
            join.connect(model.inputs[i].map { j in
                TensorPort(values: UnsafePointer(valuePointer(j)), gradients: gradientPointer(j),
                           sampleStride: j < 0 ? model.inputShape.count : sampleStride[j], inPlace: j >= 0 && plan.inPlaceIn[j] == i)
            })
        }
        for (j, p) in routed {
            (layers[j] as! Conv2D).routedPool = PoolRoute(pool: layers[p] as! MaxPool2D, values: UnsafePointer(valuePointer(p)),
                                                          gradients: UnsafePointer(gradientPointer(p)!), sampleStride: sampleStride[p])
        }
        for (i, layer) in layers.enumerated() {
            guard let conv = layer as? Conv2D else { continue }
            conv.foldedResidual = plan.foldedResidual[i].map { s in
                TensorPort(values: UnsafePointer(valuePointer(s)), gradients: nil, sampleStride: sampleStride[s])
            }
        }
    }

    /// Fills the prepared inference weights (`inferenceWeights`) from the
    /// current weights: before inference, whenever the weights may have
    /// changed. For a store shared by several networks, call it on one of
    /// them while none runs.
    public func prepareInference() {
        inferenceWeights?.prepare(using: self)
    }

    /// Node j's values (j = -1: the model input).
    private func valuePointer(_ j: Int) -> UnsafeMutablePointer<Float> {
        j < 0 ? input.pointer : values[valueSlot[owner[j]]].pointer + offset[j]
    }

    /// Node j's gradient; nil for the model input and in inference-only networks.
    private func gradientPointer(_ j: Int) -> UnsafeMutablePointer<Float>? {
        j < 0 || deltas.isEmpty ? nil : deltas[gradientSlot[owner[j]]].pointer + offset[j]
    }

    /// The model's output for the last forward, `[batch, outputs]`.
    public var output: UnsafeMutablePointer<Float> { valuePointer(model.layers.count - 1) }

    /// Runs every layer on the first `batch` samples of `input`.
    public func forward(batch: Int, training: Bool) {
        precondition(batch <= maxBatch)
        precondition(training || inferenceWeights?.isPrepared ?? true,
                     "inference before prepareInference(): the prepared weights are stale")
        // Every inference: a model's layers may serve several networks. (A
        // training forward never reads the prepared form, so steps skip this.)
        if !training {
            for (i, layer) in preparing { layer.usePrepared(inferenceWeights?.region(i)) }
        }
        context.training = training
        for (i, layer) in model.layers.enumerated() where !skipped[i] {
            let t0 = profile == nil ? 0 : clockSeconds()
            layer.forward(UnsafePointer(valuePointer(model.inputs[i][0])), valuePointer(i), batch: batch, context: context)
            if let profile { profile[i] += clockSeconds() - t0 }
        }
    }

    /// Loss (sum over the shard) of the last forward against `labels`; with
    /// `gradScale` set, also seeds the backward pass with `gradScale * dLoss`.
    public func loss(batch: Int, gradScale: Float?, correct: inout Int) -> Float {
        let outputs = model.outputShape.count
        precondition(gradScale == nil || gradients != nil, "an inference-only network has no gradients")
        context.gradScale = gradScale ?? 0
        return model.loss.evaluate(output, labels: labels.pointer, batch: batch, outputs: outputs,
                                   gradScale: gradScale ?? 0, labelSmoothing: labelSmoothing, gradScale == nil ? nil : gradientPointer(model.layers.count - 1),
                                   correct: &correct)
    }

    /// Keeps only sample `i`'s row of the output gradient that `loss` seeded,
    /// so that the next `backward` gives the gradient of that sample's loss
    /// alone (per-sample gradients, for the NTK score).
    public func keepOutputGradient(ofSample i: Int, batch: Int) {
        let k = model.outputShape.count
        let g = gradientPointer(model.layers.count - 1)!
        for n in 0..<batch where n != i { (g + n * k).update(repeating: 0, count: k) }
    }

    /// Back-propagates the seeded output gradient, ACCUMULATING parameter
    /// gradients into `gradients` (the caller zeroes them once per step, so
    /// several shards may accumulate into one arena).
    public func backward(batch: Int) {
        precondition(gradients != nil, "an inference-only network has no gradients")
        let n = model.layers.count
        for i in stride(from: n - 1, through: 0, by: -1) {
            let layer = model.layers[i]
            for r in zeroBefore[i] {
                deltas[gradientSlot[r]].pointer.update(repeating: 0, count: batch * model.layers[r].outputShape.count)
            }
            if skipped[i] { continue }
            let source = model.inputs[i][0]
            let t0 = profile == nil ? 0 : clockSeconds()
            layer.backward(UnsafePointer(valuePointer(source)), valuePointer(i), gradientPointer(i)!,
                           gradientPointer(source), batch: batch, context: context)
            if let profile { profile[n + i] += clockSeconds() - t0 }
        }
    }
}

/// Monotonic clock in seconds (for layer profiling).
@inline(__always)
func clockSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
