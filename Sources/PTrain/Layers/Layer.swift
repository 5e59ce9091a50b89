import PTrainKernels

/// How a parameter tensor is filled at initialisation.
public enum Initializer: Sendable, Hashable {
    case zeros, ones
    /// U(-bound, bound)
    case uniform(bound: Float)
    /// N(0, std^2)
    case normal(std: Float)
}

/// A parameter tensor a layer declares: its name within the layer (PyTorch's
/// `weight` / `bias`), its shape in PyTorch's layout (OIHW conv weights,
/// `[out, in]` dense weights) and its initialiser.
public struct ParameterSpec: Sendable, Hashable {
    public let name: String
    public let shape: [Int]
    public let initializer: Initializer
    public init(name: String, shape: [Int], initializer: Initializer) {
        self.name = name; self.shape = shape; self.initializer = initializer
    }
    public var count: Int { shape.reduce(1, *) }
}

/// Per-replica state a layer reads while it runs a step: the mode, the keys of
/// per-sample randomness, and scratch shared by the replica's layers. Passed
/// in, never global (STYLE: training vs inference is a mode passed in).
public final class StepContext: @unchecked Sendable {
    /// Training (dropout active, batch statistics) or inference.
    public var training: Bool = true
    /// Run seed: with `epoch` and the sample index, keys every random draw.
    public var seed: UInt64
    public var epoch: Int = 0
    /// Dataset index of each sample of the current shard, `[maxBatch]`.
    public let sampleIndices: UnsafeMutablePointer<Int>
    public let maxBatch: Int
    /// GEMM packing buffers for this replica's thread.
    public let gemm: GEMMWorkspace

    public init(seed: UInt64, maxBatch: Int) {
        self.seed = seed
        self.maxBatch = maxBatch
        sampleIndices = .allocate(capacity: max(maxBatch, 1))
        sampleIndices.initialize(repeating: 0, count: max(maxBatch, 1))
        gemm = GEMMWorkspace()
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
    public var parameterCount: Int { parameterSpecs.reduce(0) { $0 + $1.count } }
    public func allocate(maxBatch: Int) {}
    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {}
}

/// Weight initialisation schemes selectable per layer (`init:` in a config).
public enum InitScheme: String, Sendable, CaseIterable {
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
