import PTrainKernels

/// 2-D convolution (cross-correlation, as in PyTorch) with groups and
/// dilation: `x [N, C, H, W]` -> `y [N, O, OH, OW]`, weights OIHW
/// `[O, C/groups, KH, KW]`, bias `[O]`, and optionally a fused relu.
///
/// The layer keeps what is a layer's: parameters, groups, bias and the relu.
/// The GEMM work of each pass is done by a `ConvolutionAlgorithm` from
/// PTrainKernels (pointwise, taps, window planes, Winograd tiles or
/// im2col), picked per pass by `ConvolutionChoice.choose`; `init(winograd:
/// false)` (the config's `algorithm: direct`) rules Winograd out, and
/// `precision` bf16 leaves the algorithms whose GEMMs run in bf16.
public final class Conv2D: StridedOutputLayer, ReLUFusable, PrecisionSelectable, InputGradientOverwriting, InferencePreparing {
    public let name: String
    public let typeName = "conv2d"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec]
    public let filters: Int, groups: Int, hasBias: Bool
    /// Geometry of ONE group's input channels.
    public let geometry: WindowGeometry
    /// Floats between consecutive output samples: `outputShape.count`, or more
    /// when the output is a channel slice of a concatenation.
    public var outputSampleStride: Int
    /// A relu fused into this layer (`ReLUFusable`): applied with the bias
    /// (or alone) after the GEMMs; backward masks dy in place first.
    public var rectifiesOutput = false
    /// Set by the network: the fused relu's gradient mask is applied by the
    /// max pool that alone reads the output (`MaxPool2D.masksRectifiedInput`).
    public var readerMasksGradient = false
    /// In a training network, the max pool that alone reads this layer's
    /// output through its fused relu, when this layer reads the model input
    /// (no input gradient): backward computes the weight gradient from the
    /// pool's gradient, outputs and argmax (`pooledWeightGradient`), and
    /// neither the pool's scatter nor this layer's output gradient runs
    /// (`StoragePlan.poolMasks`, `Network`).
    public var routedPool: PoolRoute?
    /// Whether a pool's gradient is routed to this layer: fp32, one group, a
    /// geometry `pooledWeightGradient` handles, and filters enough to share
    /// each pixel's patch (gathered once per image for all of them):
    /// LeNet's 6-filter conv1 took 0.080 ms per shard routed against 0.035
    /// for the scattered pool and image-lane weight gradient, W2's 64
    /// filters 0.77-0.85 against 1.22 (`ptrain bench --workers 1`, per layer).
    public var poolRoutable: Bool {
        precision == .fp32 && groups == 1 && filters >= Self.routedFilters && pooledWeightGradientSupports(geometry)
    }
    /// The fewest filters `poolRoutable` takes.
    public static let routedFilters = 32
    /// The scratch floats of the weight gradient routed from `pool`.
    public func routedScratchFloats(pool: MaxPool2D) -> Int { pooledWeightGradientScratchFloats(geometry, pool: pool.geometry) }
    /// In an inference-only network, the batch norm that is this layer's
    /// only reader, folded into its output (`StoragePlan.foldedNorm`): the
    /// norm's per-channel affine map (and its relu, `rectifiesOutput`) is
    /// applied as the outputs are stored, and the norm does not run.
    public var foldedNorm: BatchNorm?
    /// In an inference-only network, the other input of the two-input `add`
    /// that reads this layer's output (or its folded norm's) alone
    /// (`StoragePlan.foldedResidual`): added to the outputs after the bias
    /// and norm and before the relu (the add's, `rectifiesOutput`), as the
    /// add would; the add does not run and its output is this layer's.
    public var foldedResidual: TensorPort?
    /// In an inference-only network, the input planes of the convolution
    /// that alone reads this layer's output (`StoragePlan.planesFor`): the
    /// output is stored as those planes, `outputSampleStride` floats per
    /// image, instead of NCHW.
    public var outputPlanes: WinogradPlanes?
    /// In an inference-only network whose producer stores this layer's
    /// input as its Winograd input planes (`outputPlanes`): their floats
    /// per image. nil: the input is NCHW.
    public var inputPlanesStride: Int?
    /// In an inference-only network, the max pool that alone reads this
    /// layer's output (after its relu; `StoragePlan.foldedPool`): the layer
    /// stores the pool's output instead of its own, `outputSampleStride`
    /// floats per image (`PooledStore`), and the pool does not run.
    public var foldedPool: MaxPool2D?
    /// Whether a max pool can be folded into this layer: its forward pass
    /// stages its outputs where they can be pooled (`PoolStoring`: the tap
    /// GEMMs, fp32 and bf16, and Winograd's).
    public var poolFoldable: Bool { algorithms.forward is any PoolStoring.Type }
    /// The algorithms of the forward pass, the input gradient and the
    /// weight gradient, by name: one name when all three agree, else the
    /// three joined by " / ", the input gradient's "none" when the layer
    /// reads the model input, the weight gradient's "pool argmax" when it
    /// is routed from a pool (`routedPool`; `ptrain bench`'s per-layer table).
    public func algorithmNames(inputGradient: Bool = true) -> String {
        let chosen = algorithms
        let names = [chosen.forward.name, inputGradient ? chosen.inputGradient.name : "none",
                     routedPool == nil ? chosen.weightGradient.name : "pool argmax"]
        return Set(names).count == 1 ? names[0] : names.joined(separator: " / ")
    }
    /// Floats between the forward pass's input samples: the planes' or NCHW's.
    private var forwardInputStride: Int { inputPlanesStride ?? inputShape.count }
    /// The forward pass's Winograd input planes; nil when the forward pass
    /// is not Winograd's.
    public var winogradInputLayout: WinogradPlanes? {
        guard ObjectIdentifier(algorithms.forward) == ObjectIdentifier(WinogradAlgorithm.self) else { return nil }
        let g = geometry
        return WinogradConvolution(channels: g.channels, outputs: filters, height: g.height, width: g.width,
                                   kernel: g.kernelH, pad: g.padH).inputLayout
    }
    /// `InputGradientOverwriting`: set when the input gradient's algorithm
    /// (Winograd, `canOverwriteInputGradient`) writes dx.
    public var overwritesInputGradient: [Bool] = []
    /// Winograd's input gradient stores whole output tiles of the gradient
    /// plan, so it can write dx instead of adding into it.
    public func canOverwriteInputGradient(_ k: Int) -> Bool {
        ObjectIdentifier(algorithms.inputGradient) == ObjectIdentifier(WinogradAlgorithm.self)
    }
    /// The convolution as the algorithms see it.
    private let shape: ConvolutionShape
    /// Whether Winograd tiles may be used (the config's `algorithm`).
    private let allowWinograd: Bool
    /// The precision of the GEMMs (`runtime.precision`, set by `Network`
    /// before `allocate`); it decides which algorithms may be chosen. A
    /// planned layer keeps its precision (another network may set it again).
    public var precision: ComputePrecision = .fp32 {
        didSet { precondition(planned == nil || precision == oldValue, "\(name): precision changed after allocate") }
    }
    /// The algorithm of each pass: forward, input gradient, weight gradient.
    private var algorithms: (forward: any ConvolutionAlgorithm.Type, inputGradient: any ConvolutionAlgorithm.Type,
                             weightGradient: any ConvolutionAlgorithm.Type) {
        (ConvolutionChoice.choose(shape, .forward, winograd: allowWinograd, precision: precision),
         ConvolutionChoice.choose(shape, .inputGradient, winograd: allowWinograd, precision: precision),
         ConvolutionChoice.choose(shape, .weightGradient, winograd: allowWinograd, precision: precision))
    }
    /// Each pass's algorithm, planned for maxBatch (set by `allocate`:
    /// planning allocates). Their workspace is the replica's shared scratch
    /// (`StepContext.scratch`), which holds nothing from one pass to the next.
    private var planned: (forward: any ConvolutionAlgorithm, inputGradient: any ConvolutionAlgorithm,
                          weightGradient: any ConvolutionAlgorithm)?
    /// The forward algorithm when it applies a fusable epilogue itself.
    private var fusingForward: (any EpilogueFusing)?
    /// Inference: the forward algorithm's prepared weights (Winograd's U,
    /// `InferencePreparing`), or nil.
    private var preparedForward: UnsafePointer<Float>?
    private var weight: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>?
    private var dWeight: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>?

    /// Callers validate shapes first (`ModelBuilder`): channels and filters
    /// divisible by groups, output size >= 1.
    public init(name: String, input: TensorShape, filters: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true,
                initScheme: InitScheme = .pytorch, winograd allowWinograd: Bool = true) {
        self.name = name
        self.filters = filters; self.groups = groups; hasBias = bias
        inputShape = input
        geometry = WindowGeometry(channels: input.channels / groups, height: input.height, width: input.width,
                                  kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0, strideW: stride.1,
                                  padH: padding.0, padW: padding.1, dilationH: dilation.0, dilationW: dilation.1)
        outputShape = TensorShape(filters, geometry.outH, geometry.outW)
        outputSampleStride = outputShape.count
        shape = ConvolutionShape(geometry: geometry, outputs: filters / groups, groups: groups)
        self.allowWinograd = allowWinograd
        let fanIn = geometry.columnRows
        let fanOut = filters / groups * kernel.0 * kernel.1
        var specs = [ParameterSpec(name: "weight", shape: [filters, input.channels / groups, kernel.0, kernel.1],
                                   initializer: initScheme.weight(fanIn: fanIn, fanOut: fanOut))]
        if bias { specs.append(ParameterSpec(name: "bias", shape: [filters], initializer: initScheme.bias(fanIn: fanIn))) }
        parameterSpecs = specs
    }

    public var detail: String {
        let g = geometry
        var s = "\(filters) \(g.kernelH)x\(g.kernelW)/\(g.strideH == g.strideW ? "\(g.strideH)" : "\(g.strideH)x\(g.strideW)")"
        if g.padH != 0 || g.padW != 0 { s += " pad \(g.padH == g.padW ? "\(g.padH)" : "\(g.padH)x\(g.padW)")" }
        if g.dilationH != 1 || g.dilationW != 1 {
            s += " dilation \(g.dilationH == g.dilationW ? "\(g.dilationH)" : "\(g.dilationH)x\(g.dilationW)")"
        }
        if groups != 1 { s += " groups \(groups)" }
        return s
    }
    public var forwardFLOPs: Int { 2 * filters * geometry.columnRows * outputShape.spatial }

    /// The three passes' algorithms planned for `maxBatch` (an algorithm
    /// serving several passes is planned once).
    private func plan(maxBatch: Int) -> (forward: any ConvolutionAlgorithm, inputGradient: any ConvolutionAlgorithm,
                                         weightGradient: any ConvolutionAlgorithm) {
        var plans: [ObjectIdentifier: any ConvolutionAlgorithm] = [:]
        func plan(_ type: any ConvolutionAlgorithm.Type) -> any ConvolutionAlgorithm {
            if let p = plans[ObjectIdentifier(type)] { return p }
            let p = type.init(shape, maxBatch: maxBatch)
            plans[ObjectIdentifier(type)] = p
            return p
        }
        let chosen = algorithms
        return (plan(chosen.forward), plan(chosen.inputGradient), plan(chosen.weightGradient))
    }

    /// The largest workspace of the three passes (they run one at a time).
    public func scratchFloats(maxBatch: Int) -> Int {
        let p = plan(maxBatch: maxBatch)
        return max(p.forward.workspaceFloats, p.inputGradient.workspaceFloats, p.weightGradient.workspaceFloats)
    }

    public func allocate(maxBatch: Int) {
        guard planned == nil else { return }
        planned = plan(maxBatch: maxBatch)
        fusingForward = planned!.forward as? any EpilogueFusing
    }

    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        weight = parameters[0]; dWeight = gradients[0]
        if hasBias { bias = parameters[1]; dBias = gradients[1] }
    }

    /// `algorithm`'s workspace: the replica's shared scratch and GEMM buffers.
    private func workspace(_ algorithm: any ConvolutionAlgorithm, _ context: StepContext) -> ConvolutionWorkspace {
        ConvolutionWorkspace(floats: context.scratch.floats(algorithm.workspaceFloats), gemm: context.gemm)
    }

    /// The forward algorithm's workspace, with the prepared weights in inference.
    private func forwardWorkspace(_ context: StepContext) -> ConvolutionWorkspace {
        let p = planned!.forward
        return ConvolutionWorkspace(floats: context.scratch.floats(p.workspaceFloats), gemm: context.gemm,
                                    preparedWeights: context.training ? nil : preparedForward)
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let p = planned!.forward
        let affine = foldedNorm.map { $0.inferenceAffine() }
        precondition(affine == nil && foldedResidual == nil && foldedPool == nil || !context.training,
                     "\(name): a folded layer in a training pass")
        let epilogue = ChannelEpilogue(bias: bias.map { UnsafePointer($0) }, scale: affine?.scale, shift: affine?.shift,
                                       rectify: rectifiesOutput)
        if let pool = foldedPool {
            guard let tap = p as? any PoolStoring, affine == nil, foldedResidual == nil, outputPlanes == nil, inputPlanesStride == nil
            else { preconditionFailure("\(name): a folded pool needs a pool-storing forward pass alone") }
            tap.forward(x, inputStride: inputShape.count, weights: weight, into: y,
                        pooled: PooledStore(geometry: pool.geometry, outputStride: outputSampleStride, scratch: pool.scratch!.pointer),
                        batch: batch, epilogue: epilogue, workspace: forwardWorkspace(context))
            return
        }
        if let residual = foldedResidual, epilogue.fusable, let winograd = fusingForward as? WinogradAlgorithm {
            precondition(outputPlanes == nil, "\(name): a folded residual into Winograd planes")
            winograd.forward(x, inputStride: forwardInputStride, weights: weight, into: y,
                             outputStride: outputSampleStride, batch: batch, epilogue: epilogue, residual: residual.values,
                             residualStride: residual.sampleStride, prepadded: inputPlanesStride != nil,
                             workspace: forwardWorkspace(context))
        } else if let residual = foldedResidual {
            // The join after the epilogue, as the add layer runs it: sum, then its relu.
            let mapped = ChannelEpilogue(bias: epilogue.bias, scale: epilogue.scale, shift: epilogue.shift, rectify: false)
            forward(x, y, batch: batch, epilogue: mapped, context: context)
            let per = outputShape.count
            for n in 0..<batch {
                let out = y + n * outputSampleStride
                addVectors(out, residual.values + n * residual.sampleStride, into: out, count: per, rectify: rectifiesOutput)
            }
        } else {
            forward(x, y, batch: batch, epilogue: epilogue, context: context)
        }
    }

    /// `y = epilogue(conv(x))`, fused into the store where the algorithm can.
    private func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, epilogue: ChannelEpilogue,
                         context: StepContext) {
        let p = planned!.forward
        if inputPlanesStride != nil || outputPlanes != nil {
            // Winograd planes in or out (`StoragePlan.planesFor`).
            guard let winograd = p as? WinogradAlgorithm else { preconditionFailure("\(name): Winograd planes without Winograd") }
            precondition(outputPlanes == nil || epilogue.fusable, "\(name): Winograd planes out need a fused epilogue")
            winograd.forward(x, inputStride: forwardInputStride, weights: weight, into: y,
                             outputStride: outputSampleStride, batch: batch, epilogue: epilogue.fusable ? epilogue : .none,
                             residual: nil, residualStride: 0, prepadded: inputPlanesStride != nil, planesOut: outputPlanes,
                             workspace: forwardWorkspace(context))
            if !epilogue.fusable {
                epilogue.applySeparately(y, sampleStride: outputSampleStride, batch: batch, channels: filters,
                                         spatial: outputShape.spatial)
            }
        } else if epilogue.fusable, let fusing = fusingForward {
            fusing.forward(x, inputStride: forwardInputStride, weights: weight, into: y, outputStride: outputSampleStride,
                           batch: batch, epilogue: epilogue, workspace: forwardWorkspace(context))
        } else {
            p.forward(x, inputStride: forwardInputStride, weights: weight, into: y, outputStride: outputSampleStride,
                      batch: batch, workspace: forwardWorkspace(context))
            epilogue.applySeparately(y, sampleStride: outputSampleStride, batch: batch, channels: filters,
                                     spatial: outputShape.spatial)
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        if let route = routedPool {
            precondition(dx == nil, "\(name): a routed pool gradient, but the input gradient is wanted")
            pooledWeightGradient(x, inputStride: inputShape.count, geometry, outputs: filters,
                                 pooledGradient: route.gradients, pooled: route.values, argmax: route.pool.argmax!.pointer,
                                 pool: route.pool.geometry, pooledStride: route.sampleStride, batch: batch,
                                 weightGradient: dWeight, biasGradient: dBias, scratch: context.scratch.floats(routedScratchFloats(pool: route.pool)))
            return
        }
        if rectifiesOutput && !readerMasksGradient {
            // The gradient of the fused relu's output, in this layer's own
            // gradient buffer (no other reader): masked where y <= 0, in place.
            let g = UnsafeMutablePointer(mutating: dy)
            for n in 0..<batch {
                rectifyGradient(y + n * outputSampleStride, g + n * outputSampleStride, count: outputShape.count)
            }
        }
        let w = planned!.weightGradient
        let overwrite = overwritesInputGradient.first == true
        if let dx, let winograd = w as? WinogradAlgorithm, winograd.combinesBackward, planned!.inputGradient is WinogradAlgorithm {
            // Both gradients in one walk: each block of dY copied once.
            winograd.backward(x, inputStride: inputShape.count, dy, outputStride: outputSampleStride, weights: weight,
                              inputGradient: dx, overwrite: overwrite, weightGradient: dWeight, batch: batch,
                              workspace: workspace(w, context))
        } else {
            w.weightGradient(x, inputStride: inputShape.count, dy, outputStride: outputSampleStride, into: dWeight,
                             batch: batch, workspace: workspace(w, context))
            if let dx {
                let g = planned!.inputGradient
                if let winograd = g as? WinogradAlgorithm {
                    winograd.inputGradient(dy, outputStride: outputSampleStride, weights: weight, into: dx,
                                           inputStride: inputShape.count, batch: batch, overwrite: overwrite,
                                           workspace: workspace(g, context))
                } else {
                    precondition(!overwrite, "\(name): only Winograd writes the input gradient")
                    g.inputGradient(dy, outputStride: outputSampleStride, weights: weight, into: dx,
                                    inputStride: inputShape.count, batch: batch, workspace: workspace(g, context))
                }
            }
        }
        if let dBias {
            for n in 0..<batch {
                accumulateChannelBiasGradient(dy + n * outputSampleStride, dBias, batch: 1, channels: filters,
                                              spatial: outputShape.spatial)
            }
        }
    }
}

/// A max pool whose gradient a convolution takes over (`Conv2D.routedPool`):
/// the pool, its outputs and its output gradient, samples `sampleStride` apart.
public struct PoolRoute {
    public let pool: MaxPool2D
    public let values: UnsafePointer<Float>, gradients: UnsafePointer<Float>
    public let sampleStride: Int
}

extension Conv2D {
    /// The forward pass's Winograd plan, when Winograd computes it (the
    /// planned one once the layer is allocated).
    private var winogradForward: WinogradAlgorithm? {
        guard ObjectIdentifier(algorithms.forward) == ObjectIdentifier(WinogradAlgorithm.self) else { return nil }
        return (planned?.forward ?? plan(maxBatch: 1).forward) as? WinogradAlgorithm
    }

    /// Winograd's transformed weights U: every forward pass would transform
    /// the weights first (docs/kernels.md, "Prepared inference weights").
    public var preparedFloats: Int { winogradForward?.preparedWeightFloats ?? 0 }
    public var preparationScratchFloats: Int { winogradForward?.preparationScratchFloats ?? 0 }

    public func prepareInference(into buffer: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, gemm: GEMMWorkspace?) {
        guard let winograd = winogradForward, let gemm else { preconditionFailure("\(name): nothing to prepare") }
        winograd.prepareWeights(weight, into: buffer, scratch: scratch, gemm: gemm)
    }

    public func usePrepared(_ prepared: UnsafePointer<Float>?) { preparedForward = prepared }
}
