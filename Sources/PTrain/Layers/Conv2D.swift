import PTrainKernels

/// 2-D convolution (cross-correlation, as in PyTorch) with groups:
/// `x [N, C, H, W]` -> `y [N, O, OH, OW]`, weights OIHW `[O, C/groups, KH, KW]`,
/// bias `[O]`. Two lowerings to GEMM for the forward pass:
///
/// - Pointwise (1x1, stride 1, no padding): each image's input plane already is
///   the column matrix.
/// - Winograd (stride 1, 3x3 or 5x5, one group, channels and filters in
///   whole 16-channel vectors; unless `init(winograd: false)`, the config's
///   `algorithm: direct`): 36 GEMMs over transformed 6x6 tiles, for the
///   forward pass and both gradients (PTrainKernels/WinogradConvolution.swift).
/// - Every other convolution: `TapConvolution`, a GEMM straight over
///   zero-padded copies of the images' planes (polyphase planes when
///   strided), with no im2col (PTrainKernels/TapConvolution.swift).
///
/// Backward: the weight gradient by taps too when the group's channels come
/// in whole 16-channel panels, else (stride 1) by window planes; the input
/// gradient of a stride-1 convolution (pad <= K - 1) is a tap convolution
/// of the output gradient padded by K - 1 - pad, with rotated weights.
/// Whatever is left (strided input gradients, strided weight gradients of
/// fewer than 16 channels, pad > K - 1) goes through im2col
/// columns of `chunk` images side by side, `col [(C/g)*KH*KW, chunk*OH*OW]`:
/// `dW += dY col^T` (one long reduction per chunk) and `dcol = W^T dY`
/// scattered back by col2im. `chunk` is as many images as fit `columnBudget`
/// floats of columns.
public final class Conv2D: StridedOutputLayer, ReLUFusable {
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
    /// 1x1, stride 1, no padding: the input plane already is the column matrix.
    private let isPointwise: Bool
    /// Every convolution but a pointwise one: the forward pass of one group as
    /// a tap GEMM (polyphase planes when strided; strips of images when
    /// narrow: `allocate` sets the strip size from maxBatch, so results do not
    /// depend on the worker count).
    private var taps: TapConvolution?
    /// The input gradient of one group as a tap GEMM (nil: col2im instead).
    private var gradientTaps: TapConvolution?
    /// Forward pass and both gradients by Winograd tiles (nil: taps or GEMM),
    /// and the input gradient's plan (set by `allocate`: building a plan
    /// allocates).
    private var winograd: WinogradConvolution?, winogradGradient: WinogradConvolution?
    /// Winograd scratch: the forward plan's padded planes, the gradient
    /// plan's, the shared transform buffers, and the transformed weights
    /// (forward; reused as the weight gradient's accumulator) and the
    /// gradient plan's transformed weights.
    private var winogradPadded: FloatBuffer?, winogradGradientPadded: FloatBuffer?
    private var winogradTransformed: FloatBuffer?, winogradProducts: FloatBuffer?, winogradTiled: FloatBuffer?
    private var winogradWeights: FloatBuffer?, winogradGradientWeights: FloatBuffer?, winogradScratch: FloatBuffer?
    /// How the weight gradient is computed.
    enum WeightGradientRoute {
        /// Tap by tap from transposed planes (whole 16-channel panels).
        case taps
        /// One GEMM over window planes (stride 1, other channel counts).
        case windows
        /// im2col columns (strided, channels off 16-channel panels; pointwise
        /// layers take their own GEMM).
        case columns
        /// Winograd tiles (`winograd`).
        case winograd
    }
    private let weightGradientRoute: WeightGradientRoute
    /// Columns are needed: for the weight gradient or for a col2im input gradient.
    private var needsColumns: Bool { winograd == nil && (weightGradientRoute == .columns || gradientTaps == nil) }
    /// Tap or window weight gradient, one strip and group: the transposed
    /// (or window) planes of the padded input (dY is read in place).
    private var transposedInput: FloatBuffer?
    /// `[groups, O/g, ld]`: the weight gradient in tap order (ld = KH*KW*C/g)
    /// or window order (ld = `windowDepth`).
    private var orderedWeightGradient: FloatBuffer?
    /// One strip's padded planes of one group: the input (forward) and the
    /// output gradient (backward). Separate, because each keeps its zero
    /// borders only by never writing them.
    private var paddedInput: FloatBuffer?, paddedGradient: FloatBuffer?
    /// `[groups, O/g, KH*KW*C/g]` (forward) then `[groups, C/g, KH*KW*O/g]`
    /// (gradient): weights in tap order, before packing; refreshed each pass.
    private var tapWeights: FloatBuffer?
    /// Packed `tapWeights`, `groups` blocks of `packedWeightCount`.
    private var packedTapWeights: FloatBuffer?
    /// `[rows, chunk * cols]` im2col columns (also the column gradient in backward).
    private var column: FloatBuffer?
    /// `[O/g, chunk * cols]`: one group's outputs (or output gradients) of a
    /// chunk; for the tap GEMMs, one strip's padded-width output.
    private var staging: FloatBuffer?
    /// Images per GEMM (set by `allocate`; depends only on the layer and maxBatch,
    /// so results do not depend on the worker count).
    private var chunk = 1
    /// Column floats per chunk at most (512 KB: the columns stay in a core's
    /// L2 while the GEMM packs them), unless one image needs more.
    static let columnBudget = 1 << 17
    private var weight: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>?
    private var dWeight: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>?

    /// Callers validate shapes first (`ModelBuilder`): channels and filters
    /// divisible by groups, output size >= 1.
    public init(name: String, input: TensorShape, filters: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), groups: Int = 1, bias: Bool = true, initScheme: InitScheme = .pytorch,
                winograd allowWinograd: Bool = true) {
        self.name = name
        self.filters = filters; self.groups = groups; hasBias = bias
        inputShape = input
        geometry = WindowGeometry(channels: input.channels / groups, height: input.height, width: input.width,
                                  kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0, strideW: stride.1,
                                  padH: padding.0, padW: padding.1)
        outputShape = TensorShape(filters, geometry.outH, geometry.outW)
        outputSampleStride = outputShape.count
        isPointwise = kernel == (1, 1) && stride == (1, 1) && padding == (0, 0)
        if allowWinograd && groups == 1
            && WinogradConvolution.supports(channels: input.channels, outputs: filters, kernelH: kernel.0, kernelW: kernel.1,
                                            strideH: stride.0, strideW: stride.1, padH: padding.0, padW: padding.1) {
            winograd = WinogradConvolution(channels: input.channels, outputs: filters, height: input.height,
                                           width: input.width, kernel: kernel.0, pad: padding.0)
            taps = nil
            gradientTaps = nil
            weightGradientRoute = .winograd
        } else if !isPointwise {
            let t = TapConvolution(channels: input.channels / groups, height: input.height, width: input.width,
                                   outputs: filters / groups, kernelH: kernel.0, kernelW: kernel.1,
                                   padH: padding.0, padW: padding.1, strideH: stride.0, strideW: stride.1)
            taps = t
            // Every stride-1 convolution with pad <= K - 1, valid ones too: the
            // gradient's wider padding multiplies zeros (its all-padding
            // kernel rows are skipped), but with 6-row micro-kernels LeNet's
            // valid 5x5 conv2 (6 input channels) measured W1 training 8.7%
            // faster this way than by col2im (tools/ab-bench, 4 rounds).
            gradientTaps = t.inputGradient
            weightGradientRoute = t.supportsWeightGradient ? .taps : t.supportsWindowGradient ? .windows : .columns
        } else {
            taps = nil
            gradientTaps = nil
            weightGradientRoute = .columns
        }
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
        if groups != 1 { s += " groups \(groups)" }
        return s
    }
    public var forwardFLOPs: Int { 2 * filters * geometry.columnRows * outputShape.spatial }

    public func allocate(maxBatch: Int) {
        guard !isPointwise, staging == nil, winogradTiled == nil else { return }
        if let w = winograd {
            let plan = w.inBlocks(of: WinogradConvolution.blockImages(
                channels: w.channels, outputs: w.outputs, height: w.height, width: w.width, kernel: w.kernel, pad: w.pad,
                maxBatch: maxBatch))
            let g = plan.inputGradient
            winograd = plan
            winogradGradient = g
            winogradPadded = FloatBuffer(count: plan.paddedCount)
            winogradGradientPadded = FloatBuffer(count: g.paddedCount)
            winogradTransformed = FloatBuffer(count: max(plan.transformedInputCount, g.transformedInputCount))
            winogradProducts = FloatBuffer(count: max(plan.productCount, g.productCount))
            winogradTiled = FloatBuffer(count: max(plan.tiledOutputCount, g.tiledOutputCount))
            winogradWeights = FloatBuffer(count: plan.transformedWeightCount)
            winogradScratch = FloatBuffer(count: WinogradConvolution.scratchCount)
            winogradGradientWeights = FloatBuffer(count: max(g.transformedWeightCount, plan.weightScratchCount))
            return
        }
        var stagingCount = 0
        if needsColumns {
            let perImage = geometry.columnRows * geometry.columnCols
            chunk = max(1, min(maxBatch, Self.columnBudget / max(perImage, 1)))
            column = FloatBuffer(count: perImage * chunk)
            stagingCount = max(filters, inputShape.channels) / groups * geometry.columnCols * chunk
        }
        if let t = taps, t.strideH == 1, t.strideW == 1 {
            taps = t.inStrips(of: tapStripImages(batch: maxBatch, width: inputShape.width, padW: geometry.padW))
            if gradientTaps != nil { gradientTaps = taps!.inputGradient }
        }
        if let taps, weightGradientRoute != .columns {
            let windows = weightGradientRoute == .windows
            transposedInput = FloatBuffer(count: windows ? taps.windowCount : taps.transposedCount)
            orderedWeightGradient = FloatBuffer(count: filters * (windows ? taps.windowDepth : geometry.columnRows))
        }
        if let taps {
            var weightCount = taps.packedWeightCount
            stagingCount = max(stagingCount, taps.outputs * taps.columns)
            paddedInput = FloatBuffer(count: taps.paddedCount)
            if let g = gradientTaps {
                weightCount = max(weightCount, g.packedWeightCount)
                stagingCount = max(stagingCount, g.outputs * g.columns)
                paddedGradient = FloatBuffer(count: g.paddedCount)
            }
            tapWeights = FloatBuffer(count: filters * geometry.columnRows)
            packedTapWeights = FloatBuffer(count: groups * weightCount)
        }
        staging = FloatBuffer(count: stagingCount)
    }

    /// The Winograd scratch around one plan's padded planes.
    private func winogradBuffers(padded: FloatBuffer) -> WinogradBuffers {
        WinogradBuffers(padded: padded.pointer, transformed: winogradTransformed!.pointer,
                        products: winogradProducts!.pointer, tiled: winogradTiled!.pointer, scratch: winogradScratch!.pointer)
    }

    /// Reorders (`rotated`: and rotates) every group's weights into tap order
    /// and packs them for `plan`.
    private func packTapWeights(for plan: TapConvolution, rotated: Bool) {
        let og = filters / groups, cg = geometry.channels, perGroup = og * geometry.columnRows
        let ordered = tapWeights!.pointer, packed = packedTapWeights!.pointer
        for g in 0..<groups {
            let w = weight + g * perGroup, dst = ordered + g * perGroup
            tapOrderWeights(w, outputs: og, channels: cg, kernelH: geometry.kernelH, kernelW: geometry.kernelW,
                            rotated: rotated, into: dst)
            plan.packWeights(dst, into: packed + g * plan.packedWeightCount)
        }
    }

    /// `out_n (+)= conv_plan(source_n)` for group `g` of every image, a strip
    /// of images at a time: pad them, one tap GEMM, copy (or add) each one's
    /// valid columns out. Slots left empty by a short last strip hold stale
    /// images, whose outputs are computed and dropped.
    private func tapConvolve(_ plan: TapConvolution, group g: Int, source: UnsafePointer<Float>, sourceSampleStride: Int,
                             padded: UnsafeMutablePointer<Float>, packedWeights: UnsafePointer<Float>,
                             into out: UnsafeMutablePointer<Float>, outSampleStride: Int, batch: Int, accumulate: Bool) {
        let stage = staging!.pointer
        let inPlane = plan.height * plan.width, outPlane = plan.outH * plan.outW
        var first = 0
        while first < batch {
            let count = min(plan.images, batch - first)
            for slot in 0..<count {
                plan.pad(source + (first + slot) * sourceSampleStride + g * plan.channels * inPlane, slot: slot,
                         channelStride: inPlane, into: padded)
            }
            plan.multiply(packedWeights: packedWeights, padded: padded, beta: 0, into: stage, ldOut: plan.columns)
            for slot in 0..<count {
                plan.extract(stage, ldOut: plan.columns, slot: slot,
                             into: out + (first + slot) * outSampleStride + g * plan.outputs * outPlane,
                             channelStride: outPlane, accumulate: accumulate)
            }
            first += count
        }
    }

    /// The weight gradient by taps or windows, a strip of images at a time.
    private func tapWeightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, batch: Int) {
        let plan = taps!, og = filters / groups, cg = geometry.channels
        let windows = weightGradientRoute == .windows
        let depth = windows ? plan.windowDepth : geometry.columnRows
        let inPlane = inputShape.spatial, outPlane = outputShape.spatial
        let ordered = orderedWeightGradient!.pointer
        orderedWeightGradient!.zero()
        for g in 0..<groups {
            var first = 0
            while first < batch {
                let count = min(plan.images, batch - first)
                for slot in 0..<count {
                    plan.pad(groupInput(x, first + slot, g), slot: slot, channelStride: inPlane, into: paddedInput!.pointer)
                }
                let gradient = dy + first * outputSampleStride + g * og * outPlane
                if windows {
                    plan.gatherWindows(paddedInput!.pointer, into: transposedInput!.pointer)
                    plan.accumulateWindowGradient(gradient: gradient, sampleStride: outputSampleStride, channelStride: outPlane,
                                                  windows: transposedInput!.pointer, images: count, into: ordered + g * og * depth)
                } else {
                    plan.transpose(paddedInput!.pointer, into: transposedInput!.pointer)
                    plan.accumulateWeightGradient(gradient: gradient, sampleStride: outputSampleStride, channelStride: outPlane,
                                                  transposed: transposedInput!.pointer, images: count, into: ordered + g * og * depth)
                }
                first += count
            }
        }
        let perGroup = og * geometry.columnRows
        for g in 0..<groups {
            if windows {
                addWindowOrderGradient(ordered + g * og * depth, ld: depth, outputs: og, channels: cg, kernelH: geometry.kernelH,
                                       kernelW: geometry.kernelW, into: dWeight + g * perGroup)
            } else {
                addTapOrderGradient(ordered + g * og * depth, outputs: og, channels: cg, kernelH: geometry.kernelH,
                                    kernelW: geometry.kernelW, into: dWeight + g * perGroup)
            }
        }
    }

    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        weight = parameters[0]; dWeight = gradients[0]
        if hasBias { bias = parameters[1]; dBias = gradients[1] }
    }

    /// im2col of group `g` of images `first ..< first + images`, side by side in `col`.
    private func fillColumns(_ x: UnsafePointer<Float>, first: Int, images: Int, group g: Int, into col: UnsafeMutablePointer<Float>) {
        let cols = geometry.columnCols
        for i in 0..<images { im2col(groupInput(x, first + i, g), geometry, col + i * cols, rowStride: images * cols) }
    }

    /// Input of group `g` of image `n`.
    private func groupInput(_ x: UnsafePointer<Float>, _ n: Int, _ g: Int) -> UnsafePointer<Float> {
        x + n * inputShape.count + g * geometry.channels * inputShape.spatial
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let rows = geometry.columnRows, cols = geometry.columnCols, og = filters / groups
        if let winograd {
            // The gradient plan's weight buffer is free until backward.
            winograd.transformWeights(weight, transposed: false, scratch: winogradGradientWeights!.pointer,
                                      into: winogradWeights!.pointer, workspace: context.gemm)
            winograd.forward(x, sampleStride: inputShape.count, batch: batch, weights: winogradWeights!.pointer, into: y,
                             outSampleStride: outputSampleStride, accumulate: false,
                             buffers: winogradBuffers(padded: winogradPadded!))
        } else if let taps {
            packTapWeights(for: taps, rotated: false)
            for g in 0..<groups {
                tapConvolve(taps, group: g, source: x, sourceSampleStride: inputShape.count, padded: paddedInput!.pointer,
                            packedWeights: packedTapWeights!.pointer + g * taps.packedWeightCount,
                            into: y, outSampleStride: outputSampleStride, batch: batch, accumulate: false)
            }
        } else {
            for n in 0..<batch {
                for g in 0..<groups {
                    sgemm(transA: false, transB: false, m: og, n: cols, k: rows, alpha: 1,
                          a: weight + g * og * rows, lda: rows, b: groupInput(x, n, g), ldb: cols, beta: 0,
                          c: y + n * outputSampleStride + g * og * cols, ldc: cols, workspace: context.gemm)
                }
            }
        }
        if let bias {
            for n in 0..<batch {
                addChannelBias(y + n * outputSampleStride, bias, batch: 1, channels: filters, spatial: cols, rectify: rectifiesOutput)
            }
        } else if rectifiesOutput {
            for n in 0..<batch { reluForward(y + n * outputSampleStride, y + n * outputSampleStride, count: outputShape.count) }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let rows = geometry.columnRows, cols = geometry.columnCols, og = filters / groups
        if rectifiesOutput {
            // The gradient of the fused relu's output, in this layer's own
            // gradient buffer (no other reader): masked where y <= 0, in place.
            let g = UnsafeMutablePointer(mutating: dy)
            for n in 0..<batch {
                rectifyGradient(y + n * outputSampleStride, g + n * outputSampleStride, count: outputShape.count)
            }
        }
        if let winograd {
            // The forward pass's transformed weights are not needed any more:
            // their buffer accumulates the transformed weight gradient.
            winograd.weightGradient(x, sampleStride: inputShape.count, dy, gradientSampleStride: outputSampleStride,
                                    batch: batch, scratch: winogradWeights!.pointer,
                                    buffers: winogradBuffers(padded: winogradPadded!), into: dWeight, workspace: context.gemm)
            if let dx, let g = winogradGradient {
                g.transformWeights(weight, transposed: true, scratch: winogradGradientWeights!.pointer,
                                   into: winogradGradientWeights!.pointer, workspace: context.gemm)
                g.forward(dy, sampleStride: outputSampleStride, batch: batch, weights: winogradGradientWeights!.pointer,
                          into: dx, outSampleStride: inputShape.count, accumulate: true,
                          buffers: winogradBuffers(padded: winogradGradientPadded!))
            }
            accumulateBiasGradient(dy, batch: batch)
            return
        }
        if weightGradientRoute != .columns { tapWeightGradient(x, dy, batch: batch) }
        if isPointwise {
            for n in 0..<batch {
                for g in 0..<groups {
                    let dyG = dy + n * outputSampleStride + g * og * cols
                    // dW_g[O/g, rows] += dy_g[O/g, cols] * x_g^T[cols, rows]
                    sgemm(transA: false, transB: true, m: og, n: rows, k: cols, alpha: 1, a: dyG, lda: cols,
                          b: groupInput(x, n, g), ldb: cols, beta: 1, c: dWeight + g * og * rows, ldc: rows, workspace: context.gemm)
                    guard let dx else { continue }
                    // dx_g[rows, cols] += W_g^T * dy_g
                    sgemm(transA: true, transB: false, m: rows, n: cols, k: og, alpha: 1, a: weight + g * og * rows, lda: rows,
                          b: dyG, ldb: cols, beta: 1, c: dx + n * inputShape.count + g * geometry.channels * inputShape.spatial,
                          ldc: cols, workspace: context.gemm)
                }
            }
        } else if weightGradientRoute == .columns || (dx != nil && gradientTaps == nil) {
            let col = column!.pointer, gathered = staging!.pointer
            var first = 0
            while first < batch {
                let images = min(chunk, batch - first), width = images * cols
                for g in 0..<groups {
                    if weightGradientRoute == .columns { fillColumns(x, first: first, images: images, group: g, into: col) }
                    // The chunk's output gradient as one [O/g, width] matrix.
                    let dyG: UnsafePointer<Float>, ld: Int
                    if images == 1 {
                        dyG = dy + first * outputSampleStride + g * og * cols
                        ld = cols
                    } else {
                        for i in 0..<images {
                            for o in 0..<og {
                                (gathered + o * width + i * cols).update(from: dy + (first + i) * outputSampleStride + (g * og + o) * cols, count: cols)
                            }
                        }
                        dyG = UnsafePointer(gathered)
                        ld = width
                    }
                    if weightGradientRoute == .columns {
                        // dW_g[O/g, rows] += dY_g[O/g, width] * col^T[width, rows]
                        sgemm(transA: false, transB: true, m: og, n: rows, k: width, alpha: 1, a: dyG, lda: ld,
                              b: col, ldb: width, beta: 1, c: dWeight + g * og * rows, ldc: rows, workspace: context.gemm)
                    }
                    guard let dx, gradientTaps == nil else { continue }
                    // dcol = W_g^T * dY_g (into the columns' buffer), scattered back into each image.
                    sgemm(transA: true, transB: false, m: rows, n: width, k: og, alpha: 1, a: weight + g * og * rows, lda: rows,
                          b: dyG, ldb: ld, beta: 0, c: col, ldc: width, workspace: context.gemm)
                    for i in 0..<images {
                        col2imAccumulate(col + i * cols, geometry, dx + (first + i) * inputShape.count + g * geometry.channels * inputShape.spatial,
                                         rowStride: width)
                    }
                }
                first += images
            }
        }
        if let dx, let gradientTaps {
            packTapWeights(for: gradientTaps, rotated: true)
            for g in 0..<groups {
                tapConvolve(gradientTaps, group: g, source: dy, sourceSampleStride: outputSampleStride,
                            padded: paddedGradient!.pointer,
                            packedWeights: packedTapWeights!.pointer + g * gradientTaps.packedWeightCount,
                            into: dx, outSampleStride: inputShape.count, batch: batch, accumulate: true)
            }
        }
        accumulateBiasGradient(dy, batch: batch)
    }

    /// `dBias[o] += sum over images and pixels of dy[o]` (no bias: nothing).
    private func accumulateBiasGradient(_ dy: UnsafePointer<Float>, batch: Int) {
        guard let dBias else { return }
        for n in 0..<batch {
            accumulateChannelBiasGradient(dy + n * outputSampleStride, dBias, batch: 1, channels: filters,
                                          spatial: outputShape.spatial)
        }
    }
}
