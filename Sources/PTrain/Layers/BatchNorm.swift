import PTrainKernels

/// Batch normalisation over `[N, C, H, W]` (or `[N, C]` after a dense layer):
/// per channel `y = gamma * (x - mean) / sqrt(var + eps) + beta`.
///
/// Training mode normalises with the statistics of the SHARD being processed
/// (per-shard statistics: the shard count is fixed by the config, so results
/// are identical for any worker count) and reports the shard's mean and
/// unbiased variance through the running-statistic gradient slots (see
/// `ParameterSpec`). With a `StatisticsExchange` in the step context, it
/// normalises with the statistics of the whole global batch instead (every
/// worker's shard; `runtime.batchnorm: global`). Inference mode uses
/// `running_mean` / `running_var`.
/// Tensor names and layouts are PyTorch's `BatchNorm2d` state_dict
/// (`num_batches_tracked` is not kept: the momentum is fixed). With
/// `affine: false` (PyTorch's `affine=False`, DARTS's search cells) there is
/// no `weight`/`bias`: gamma is 1 and beta 0, and only the running
/// statistics are tensors.
public final class BatchNorm: StridedInputLayer, ReLUFusable, OutputFreeBackward, InputGradientOverwriting {
    public let name: String
    public let typeName = "batchnorm"
    public let inputShape: TensorShape
    public var outputShape: TensorShape { inputShape }
    public let parameterSpecs: [ParameterSpec]
    public let epsilon: Float, momentum: Float
    /// False: no learnable `weight`/`bias` (gamma 1, beta 0).
    public let affine: Bool
    /// Floats between consecutive input samples (and input-gradient samples);
    /// the network sets it when the input is a slice of a wider tensor.
    public var inputSampleStride: Int
    /// A relu fused into this layer (`ReLUFusable`): forward writes
    /// `max(y, 0)`; backward recomputes the mask from x and `scale`/`shift`.
    public var rectifiesOutput = false
    /// `InputGradientOverwriting`: every element of dx is written.
    public var overwritesInputGradient: [Bool] = []
    public func canOverwriteInputGradient(_ k: Int) -> Bool { true }

    private let channels: Int, spatial: Int
    /// Per channel, `[C]` each: the shard's mean, 1/sqrt(var + eps), and the
    /// folded affine `scale`/`shift` applied in forward.
    private var mean: FloatBuffer!, invStd: FloatBuffer!, variance: FloatBuffer!
    private var scale: FloatBuffer!, shift: FloatBuffer!
    /// `[2C + 1]` doubles: per-channel sums (and the value count) to reduce.
    private var sums: UnsafeMutablePointer<Double>?
    /// Values per channel the last training forward normalised over (the
    /// shard's, or the global batch's).
    private var statisticsCount = 0.0
    /// `[C]` ones and zeros standing for gamma and beta when not affine.
    private var unitAffine: (gamma: FloatBuffer, beta: FloatBuffer)?
    private var gamma: UnsafeMutablePointer<Float>!, beta: UnsafeMutablePointer<Float>!
    private var runningMean: UnsafeMutablePointer<Float>!, runningVar: UnsafeMutablePointer<Float>!
    private var dGamma: UnsafeMutablePointer<Float>!, dBeta: UnsafeMutablePointer<Float>!
    private var meanSlot: UnsafeMutablePointer<Float>!, varSlot: UnsafeMutablePointer<Float>!

    public init(name: String, input: TensorShape, epsilon: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) {
        self.name = name
        inputShape = input
        self.epsilon = epsilon; self.momentum = momentum; self.affine = affine
        channels = input.channels
        spatial = input.spatial
        inputSampleStride = input.count
        let c = [input.channels]
        let learned = [ParameterSpec(name: "weight", shape: c, initializer: .ones),
                       ParameterSpec(name: "bias", shape: c, initializer: .zeros)]
        parameterSpecs = (affine ? learned : []) + [
            ParameterSpec(name: "running_mean", shape: c, initializer: .zeros, runningAverageMomentum: momentum),
            ParameterSpec(name: "running_var", shape: c, initializer: .ones, runningAverageMomentum: momentum),
        ]
    }

    public var detail: String {
        let settings = momentum == 0.1 && epsilon == 1e-5 ? "" : "momentum \(momentum) eps \(epsilon)"
        return affine ? settings : (settings.isEmpty ? "no affine" : settings + " no affine")
    }
    public var forwardFLOPs: Int { 2 * inputShape.count }

    /// Five per-channel vectors, the `[2C + 1]` doubles of sums (two floats
    /// each) and, without affine, the unit scale and zero shift (`NetworkFootprint` counts them).
    public func ownedFloats(maxBatch: Int) -> Int { 5 * channels + 2 * (2 * channels + 1) + (affine ? 0 : 2 * channels) }

    public func allocate(maxBatch: Int) {
        guard mean == nil else { return }
        mean = FloatBuffer(count: channels); invStd = FloatBuffer(count: channels); variance = FloatBuffer(count: channels)
        scale = FloatBuffer(count: channels); shift = FloatBuffer(count: channels)
        sums = .allocate(capacity: 2 * channels + 1)
        sums!.initialize(repeating: 0, count: 2 * channels + 1)
        if !affine {
            let ones = FloatBuffer(count: channels)
            ones.pointer.update(repeating: 1, count: channels)
            unitAffine = (ones, FloatBuffer(count: channels))
        }
    }

    deinit { sums?.deallocate() }

    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        let k = affine ? 2 : 0  // index of running_mean
        if affine {
            gamma = parameters[0]; beta = parameters[1]; dGamma = gradients[0]; dBeta = gradients[1]
        } else {
            gamma = unitAffine!.gamma.pointer; beta = unitAffine!.beta.pointer
        }
        runningMean = parameters[k]; runningVar = parameters[k + 1]; meanSlot = gradients[k]; varSlot = gradients[k + 1]
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let m = mean.pointer, v = variance.pointer
        if context.training, let exchange = context.statistics {
            // Two exchanges: the global mean, then squared deviations from it.
            let s = sums!
            channelSums(x, batch: batch, channels: channels, spatial: spatial, sampleStride: inputSampleStride, center: nil, into: s)
            s[channels] = Double(batch * spatial)
            exchange.allReduce(worker: context.worker, round: &context.exchangeRound, s, count: channels + 1)
            statisticsCount = s[channels]
            for c in 0..<channels { m[c] = Float(s[c] / statisticsCount) }
            channelSums(x, batch: batch, channels: channels, spatial: spatial, sampleStride: inputSampleStride, center: m, into: s)
            exchange.allReduce(worker: context.worker, round: &context.exchangeRound, s, count: channels)
            for c in 0..<channels { v[c] = Float(s[c] / statisticsCount) }
        } else if context.training {
            channelMoments(x, batch: batch, channels: channels, spatial: spatial, sampleStride: inputSampleStride,
                           mean: m, variance: v, scratch: sums!)
            statisticsCount = Double(batch * spatial)
        } else {
            m.update(from: runningMean, count: channels)
            v.update(from: runningVar, count: channels)
        }
        foldStatistics()
        channelAffine(x, sampleStride: inputSampleStride, y, batch: batch, channels: channels, spatial: spatial,
                      scale: scale.pointer, shift: shift.pointer, rectify: rectifiesOutput)
    }

    /// The inference map `x * scale + shift` (from the running statistics),
    /// computed as the inference forward computes it, in this layer's
    /// buffers: for a convolution this norm is folded into (`Conv2D.foldedNorm`).
    public func inferenceAffine() -> (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) {
        mean.pointer.update(from: runningMean, count: channels)
        variance.pointer.update(from: runningVar, count: channels)
        foldStatistics()
        return (UnsafePointer(scale.pointer), UnsafePointer(shift.pointer))
    }

    /// `invStd`, `scale` and `shift` from `mean` and `variance`.
    private func foldStatistics() {
        let m = mean.pointer, v = variance.pointer, r = invStd.pointer
        for c in 0..<channels {
            r[c] = 1 / (v[c] + epsilon).squareRoot()
            scale.pointer[c] = gamma[c] * r[c]
            shift.pointer[c] = beta[c] - m[c] * scale.pointer[c]
        }
    }

    /// Backward of the training-mode forward (the only mode that runs backward).
    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let s = sums!
        // scale and shift are still the forward's: the fused relu's mask.
        let rectified = rectifiesOutput ? RectifiedAffine(scale: scale.pointer, shift: shift.pointer) : nil
        // Two passes over whole tensors, sample by sample (each sample's
        // planes one run for the prefetcher): measured faster than channel
        // groups kept in L2, whose per-sample runs (one 4 KB plane on W3's
        // first stage) left the sums waiting on memory (docs/kernels.md).
        batchNormGradientSums(x, sampleStride: inputSampleStride, dy, batch: batch, channels: channels, spatial: spatial,
                              mean: mean.pointer, rectified: rectified, into: s)
        // Parameter gradients from this shard only: the runtime sums shards.
        for c in 0..<channels where affine {
            dGamma[c] += Float(s[channels + c]) * invStd.pointer[c]
            dBeta[c] += Float(s[c])
        }
        // The input gradient needs the sums over every sample normalised together.
        if let exchange = context.statistics {
            exchange.allReduce(worker: context.worker, round: &context.exchangeRound, s, count: 2 * channels)
        }
        if let dx {
            batchNormInputGradient(x, sampleStride: inputSampleStride, dy, dx, batch: batch, channels: channels, spatial: spatial,
                                   mean: mean.pointer, invStd: invStd.pointer, gamma: gamma, rectified: rectified,
                                   sums: s, count: statisticsCount, overwrite: overwritesInputGradient.first == true)
        }
        // This shard's share of the global batch's statistics (PyTorch keeps
        // the unbiased variance in running_var).
        let count = statisticsCount
        let weight = context.gradScale * Float(batch)
        let unbiased = count > 1 ? Float(count / (count - 1)) : 1
        for c in 0..<channels {
            meanSlot[c] += weight * mean.pointer[c]
            varSlot[c] += weight * unbiased * variance.pointer[c]
        }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension BatchNorm {
    /// Keys `momentum` (0.1), `eps` (1e-5) and `affine` (true), PyTorch's defaults.
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let momentum = Float(try m.double("momentum", default: 0.1, 0...1))
        let eps = Float(try m.double("eps", default: 1e-5, 0...1, openLower: true))
        let affine = try m.bool("affine", default: true)
        return { BatchNorm(name: $0, input: $1, epsilon: eps, momentum: momentum, affine: affine) }
    }
}
