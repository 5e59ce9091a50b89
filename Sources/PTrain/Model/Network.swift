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
    /// `activations[i]` is the output of layer i, `[maxBatch, layer.outputShape]`.
    private let activations: [FloatBuffer]
    /// `deltas[i]` is dLoss/d(activations[i]).
    private let deltas: [FloatBuffer]
    /// When set, forward and backward add each layer's wall time (seconds)
    /// here: `[2 * layers]`, forward times then backward times.
    public var profile: UnsafeMutablePointer<Double>?

    /// `gradients: nil` builds an inference-only network: no gradient arena
    /// and no activation-gradient buffers (half the memory); `backward` and
    /// `loss(gradScale:)` must not be called on it.
    public init(model: Model, maxBatch: Int, parameters: FloatBuffer, gradients: FloatBuffer?, seed: UInt64) {
        precondition(parameters.count == model.layout.totalCount && (gradients?.count ?? model.layout.totalCount) == model.layout.totalCount)
        self.model = model
        self.maxBatch = maxBatch
        self.parameters = parameters
        self.gradients = gradients
        context = StepContext(seed: seed, maxBatch: maxBatch)
        input = FloatBuffer(count: maxBatch * model.inputShape.count)
        labels = Int32Buffer(count: maxBatch)
        activations = model.layers.map { FloatBuffer(count: maxBatch * $0.outputShape.count) }
        deltas = gradients == nil ? [] : model.layers.map { FloatBuffer(count: maxBatch * $0.outputShape.count) }
        for (index, layer) in model.layers.enumerated() {
            layer.allocate(maxBatch: maxBatch)
            let entries = model.layout.entries.filter { $0.layerIndex == index }
            layer.bind(parameters: entries.map { parameters.pointer + $0.offset },
                       gradients: entries.map { (gradients ?? parameters).pointer + $0.offset })
        }
    }

    /// The model's output for the last forward, `[batch, outputs]`.
    public var output: UnsafeMutablePointer<Float> { activations.last?.pointer ?? input.pointer }

    /// Runs every layer on the first `batch` samples of `input`.
    public func forward(batch: Int, training: Bool) {
        precondition(batch <= maxBatch)
        context.training = training
        var x = UnsafePointer(input.pointer)
        for (i, layer) in model.layers.enumerated() {
            let t0 = profile == nil ? 0 : clockSeconds()
            layer.forward(x, activations[i].pointer, batch: batch, context: context)
            if let profile { profile[i] += clockSeconds() - t0 }
            x = UnsafePointer(activations[i].pointer)
        }
    }

    /// Loss (sum over the shard) of the last forward against `labels`; with
    /// `gradScale` set, also seeds the backward pass with `gradScale * dLoss`.
    public func loss(batch: Int, gradScale: Float?, correct: inout Int) -> Float {
        let outputs = model.outputShape.count
        precondition(gradScale == nil || gradients != nil, "an inference-only network has no gradients")
        return model.loss.evaluate(output, labels: labels.pointer, batch: batch, outputs: outputs,
                                   gradScale: gradScale ?? 0, gradScale == nil ? nil : deltas.last!.pointer,
                                   correct: &correct)
    }

    /// Back-propagates the seeded output gradient, ACCUMULATING parameter
    /// gradients into `gradients` (the caller zeroes them once per step, so
    /// several shards may accumulate into one arena).
    public func backward(batch: Int) {
        precondition(gradients != nil, "an inference-only network has no gradients")
        for i in stride(from: model.layers.count - 1, through: 0, by: -1) {
            let layer = model.layers[i]
            let x = i == 0 ? UnsafePointer(input.pointer) : UnsafePointer(activations[i - 1].pointer)
            var dx: UnsafeMutablePointer<Float>? = nil
            if i > 0 {
                dx = deltas[i - 1].pointer
                dx!.update(repeating: 0, count: batch * layer.inputShape.count)
            }
            let t0 = profile == nil ? 0 : clockSeconds()
            layer.backward(x, activations[i].pointer, deltas[i].pointer, dx, batch: batch, context: context)
            if let profile { profile[model.layers.count + i] += clockSeconds() - t0 }
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
