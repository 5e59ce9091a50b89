import PTrainKernels

/// How a parameter tensor is filled at initialisation.
public enum Initializer: Sendable, Hashable {
    case zeros, ones
    /// U(-bound, bound)
    case uniform(bound: Float)
    /// N(0, std^2)
    case normal(std: Float)
}

/// What a trainable tensor is for. Architecture parameters (a `mixed`
/// layer's `alpha`: the mixing logits of a DARTS search) are checkpointed,
/// differentiated and reduced like weights, but the weight optimizer does not
/// step them: a separate (bilevel) update owns them.
public enum ParameterRole: Sendable, Hashable {
    case weight, architecture
}

/// A parameter tensor a layer declares: its name within the layer (PyTorch's
/// `weight` / `bias`), its shape in PyTorch's layout (OIHW conv weights,
/// `[out, in]` dense weights) and its initialiser.
///
/// A running statistic (batch norm's `running_mean`) is state, not a
/// trainable parameter: it lives in the arena so that checkpoints, parameter
/// averaging and evaluation see it, but the optimizer does not step it.
/// Instead, during backward the layer ADDS `gradScale * batch * statistic` of
/// its shard into the tensor's gradient slot; the reduced sum is then the
/// statistic of the whole global batch (a sample-weighted mean of the
/// shards'), and the update is `running = (1 - momentum) * running + momentum * sum`.
public struct ParameterSpec: Sendable, Hashable {
    public let name: String
    public let shape: [Int]
    public let initializer: Initializer
    /// nil: trainable. Else the momentum of the running average (PyTorch's 0.1).
    public let runningAverageMomentum: Float?
    public let role: ParameterRole
    /// nil: the layer's own tensor, named `LAYER.name`. Else a model-wide
    /// name: every spec with this name (same shape and role) is ONE tensor of
    /// the layout, named by it, that all those layers read and accumulate
    /// gradients into (DARTS ties one alpha per edge across all cells of a
    /// type). Layers must add (`+=`) into a shared tensor's gradient.
    public let shared: String?
    public init(name: String, shape: [Int], initializer: Initializer, runningAverageMomentum: Float? = nil,
                role: ParameterRole = .weight, shared: String? = nil) {
        self.name = name; self.shape = shape; self.initializer = initializer
        self.runningAverageMomentum = runningAverageMomentum
        self.role = role
        self.shared = shared
    }
    public var count: Int { shape.reduce(1, *) }
    /// True for tensors with a gradient (weights and architecture parameters).
    public var isTrainable: Bool { runningAverageMomentum == nil }
    /// True for the tensors the weight optimizer steps and the parameter count counts.
    public var isWeight: Bool { isTrainable && role == .weight }

    /// The same tensor named `prefix.name` (a layer composed of inner layers
    /// reports their tensors under its own name).
    public func prefixed(_ prefix: String) -> ParameterSpec {
        ParameterSpec(name: "\(prefix).\(name)", shape: shape, initializer: initializer,
                      runningAverageMomentum: runningAverageMomentum, role: role, shared: shared)
    }
}

/// Per-replica state a layer reads while it runs a step: the mode, the keys of
/// per-sample randomness, and scratch shared by the replica's layers (GEMM
/// packing buffers, `scratch`). Passed
/// in, never global (docs/architecture.md: training vs inference is a mode passed in).
public final class StepContext: @unchecked Sendable {
    /// Training (dropout active, batch statistics) or inference.
    public var training: Bool = true
    /// False: dropout passes values through even in training (the NTK score
    /// measures the network without its noise).
    public var dropout: Bool = true
    /// Run seed: with `epoch` and the sample index, keys every random draw.
    public var seed: UInt64
    public var epoch: Int = 0
    /// Dataset index of each sample of the current shard, `[maxBatch]`.
    public let sampleIndices: UnsafeMutablePointer<Int>
    public let maxBatch: Int
    /// GEMM packing buffers for this replica's thread.
    public let gemm: GEMMWorkspace
    /// The layers' shared scratch (`Layer.scratchFloats`).
    public let scratch: LayerScratch
    /// The factor the current backward pass scales the loss gradient by
    /// (1 / the global batch under synchronous SGD); layers with running
    /// statistics weight their shard's statistics by `gradScale * batch`.
    public var gradScale: Float = 0
    /// Set when batch norm uses the statistics of the whole global batch:
    /// the exchange shared by the step's workers, this replica's worker index
    /// and its count of exchanges so far.
    public var statistics: StatisticsExchange?
    public var worker = 0
    public var exchangeRound = 0
    /// The current shard's index within the process's batch (where layers
    /// with a batch-wide weight gradient record it: `BatchWeightGradients`).
    public var shard = 0

    /// `scratch`: another context's, to share it (a worker's evaluation
    /// network shares its training network's); nil: a new, empty one.
    /// `precision`: of the GEMM workspace (bf16 needs `BF16Support.available`).
    public init(seed: UInt64, maxBatch: Int, scratch: LayerScratch? = nil, precision: ComputePrecision = .fp32) {
        self.seed = seed
        self.maxBatch = maxBatch
        self.scratch = scratch ?? LayerScratch()
        sampleIndices = .allocate(capacity: max(maxBatch, 1))
        sampleIndices.initialize(repeating: 0, count: max(maxBatch, 1))
        gemm = GEMMWorkspace(precision: precision)
    }
    deinit { sampleIndices.deallocate() }
}

/// One layer of a model. Forward and backward work on whole shards of
/// `[N, C, H, W]` activations in caller-owned buffers.
///
/// Lifecycle: created from its config (shapes and parameter specs only, no
/// allocation, so `ptrain summary` can describe huge models), then
/// `allocate(maxBatch:)` for scratch, then `bind` to views into the flat
/// parameter and gradient arenas.
public protocol Layer: AnyObject {
    /// PyTorch `state_dict` prefix, e.g. `"0"` or `"features.3"`.
    var name: String { get }
    /// Config `type` of the layer, e.g. `conv2d`.
    var typeName: String { get }
    /// Short human description for the layer table, e.g. `6 5x5/1 pad 2`.
    var detail: String { get }
    var inputShape: TensorShape { get }
    var outputShape: TensorShape { get }
    /// Parameter tensors, in arena order.
    var parameterSpecs: [ParameterSpec] { get }
    /// Forward floating-point operations per sample (multiply-add = 2).
    var forwardFLOPs: Int { get }
    /// Floats of `StepContext.scratch` a pass on shards of up to `maxBatch`
    /// samples uses (known before `allocate`, for the memory estimate).
    func scratchFloats(maxBatch: Int) -> Int
    /// Floats of the buffers the layer allocates for itself in `allocate`
    /// when they grow with the batch (composite layers' inner outputs and
    /// gradients), for the memory estimate; 0 for most layers.
    func ownedFloats(maxBatch: Int) -> Int

    /// Allocates scratch for shards of up to `maxBatch` samples.
    func allocate(maxBatch: Int)
    /// Points the layer at its tensors: `parameters[i]`/`gradients[i]` hold
    /// `parameterSpecs[i].count` floats each.
    func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>])
    /// `y = f(x)` for `batch` samples. Overwrites `y`.
    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext)
    /// Accumulates (`+=`) the input gradient into `dx` (skipped when nil: the
    /// first layer) and the parameter gradients into the bound gradient views.
    func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                  _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext)
}

extension Layer {
    /// Weights (running statistics excluded, as PyTorch counts; architecture
    /// parameters excluded, as DARTS's `model.parameters()`).
    public var parameterCount: Int { parameterSpecs.reduce(0) { $0 + ($1.isWeight ? $1.count : 0) } }
    public func allocate(maxBatch: Int) {}
    public func scratchFloats(maxBatch: Int) -> Int { 0 }
    public func ownedFloats(maxBatch: Int) -> Int { 0 }
    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {}
}

/// Weight initialisation schemes selectable per layer (`init:` in a config).
public enum InitScheme: String, ConfigOption {
    /// PyTorch's default for Conv/Linear: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    case pytorch
    /// He et al. 2015: weights N(0, 2/fan_in), biases 0 (for ReLU nets).
    case he
    /// Glorot/Xavier uniform: U(-sqrt(6/(fan_in+fan_out)), +), biases 0 (for sigmoid/tanh).
    case xavier

    public func weight(fanIn: Int, fanOut: Int) -> Initializer {
        switch self {
        case .pytorch: return .uniform(bound: 1 / Float(fanIn).squareRoot())
        case .he: return .normal(std: (2 / Float(fanIn)).squareRoot())
        case .xavier: return .uniform(bound: (6 / Float(fanIn + fanOut)).squareRoot())
        }
    }

    public func bias(fanIn: Int) -> Initializer {
        self == .pytorch ? .uniform(bound: 1 / Float(fanIn).squareRoot()) : .zeros
    }
}

/// One input of a `MultiInputLayer` as the network stores it: values, the
/// gradient buffer (nil when no gradient is wanted: the model input, or an
/// inference-only network), and the floats between consecutive samples.
/// `inPlace` marks an input the network already placed inside this layer's
/// output (a concatenation view): the layer neither copies it forward nor
/// back-propagates into it, since both share memory.
public struct TensorPort {
    public let values: UnsafePointer<Float>
    public let gradients: UnsafeMutablePointer<Float>?
    public let sampleStride: Int
    public let inPlace: Bool
    public init(values: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>?, sampleStride: Int, inPlace: Bool = false) {
        self.values = values; self.gradients = gradients; self.sampleStride = sampleStride; self.inPlace = inPlace
    }
}

/// A layer reading several tensors (`add`, `concat`). `inputShape` is its
/// first input's. The network calls `connect` once, after `allocate`; then
/// `forward`/`backward` read the ports and ignore their `x`/`dx` arguments.
public protocol MultiInputLayer: Layer {
    var inputShapes: [TensorShape] { get }
    func connect(_ ports: [TensorPort])
}

/// A layer that can read its input (and write its input gradient) with
/// samples `inputSampleStride` floats apart: its input may be a channel
/// prefix of a wider tensor. The network sets the stride before `allocate`.
public protocol StridedInputLayer: Layer {
    var inputSampleStride: Int { get set }
}

/// A layer that can write its output (and read its output gradient) with
/// samples `outputSampleStride` floats apart: its output may be a channel
/// slice of a wider tensor (a concatenation it feeds).
public protocol StridedOutputLayer: Layer {
    var outputSampleStride: Int { get set }
}

/// A layer whose backward reads its input and its output gradient, never its
/// output: once the output's readers have run forward, nothing needs its
/// values. A residual join (`Add`) that is that output's only reader writes
/// its own output over it (`StoragePlan.valueHost`), one activation buffer
/// less per join in a training network. Not for a layer that may rectify its
/// output from y (the mask would be lost); batch norm takes its mask from x.
public protocol OutputFreeBackward: Layer {}

/// A layer that can rectify its own output. When a `relu` is the only reader
/// of such a layer's output, the network fuses it (`StoragePlan`): the layer
/// writes `max(y, 0)` in the pass that writes y, the relu node is stored as
/// the layer's node and never runs, and the layer's backward receives the
/// gradient of the rectified output and applies the mask `y > 0` itself.
/// One pass over the activations and one activation buffer less per fusion,
/// with bitwise the same values and gradients as the two layers run apart.
public protocol ReLUFusable: Layer {
    /// Set by the network before `allocate`; false unless fused.
    var rectifiesOutput: Bool { get set }
}

/// A layer whose backward can WRITE an input's gradient instead of adding
/// into it. The network zeroes each gradient buffer before the first
/// backward that adds into it (`StoragePlan.zeroBefore`); where that first
/// writer is this layer, reading the tensor once and whole
/// (`StoragePlan.overwritable`), and it can overwrite that input, the
/// network skips the zeroing and sets the flag: one pass over the buffer
/// less and one read less in backward, with the same bits (`0 + g`, what
/// adding `g` into zeros gives). Readers before it add into the gradient
/// afterwards, as before.
public protocol InputGradientOverwriting: Layer {
    /// Whether backward can write every element of input k's gradient
    /// (asked after the network set `rectifiesOutput` and `precision`).
    func canOverwriteInputGradient(_ k: Int) -> Bool
    /// Set by the network before `allocate`: per input, whether backward
    /// writes its gradient instead of adding into it. Empty: adds into all.
    var overwritesInputGradient: [Bool] { get set }
}

/// A layer whose algorithms depend on the GEMM precision (`runtime.precision`):
/// the convolutions, whose bf16 path uses only the algorithms that compute
/// through `gemm` (ConvolutionChoice). Layers that call `gemm` directly
/// (dense, locally connected) follow `StepContext.gemm`'s precision alone.
public protocol PrecisionSelectable: Layer {
    /// Set by the network before `allocate`; fp32 unless the run says bf16.
    var precision: ComputePrecision { get set }
}
