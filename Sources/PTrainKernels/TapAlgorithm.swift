/// Tap GEMMs over zero-padded planes, no im2col (TapConvolution.swift),
/// undilated: the forward pass of any shape (polyphase planes when strided; strips of
/// images when narrow), the input gradient of stride-1 shapes with pad <=
/// K - 1 (the same GEMM over the output gradient, rotated weights) and of
/// strided shapes (one such GEMM per input phase, TapStridedGradient.swift), and the
/// weight gradient tap by tap when a group's channels come in whole
/// 16-channel panels.
///
/// Workspace, in order: one strip's padded input planes of one group
/// (forward and weight gradient; the output gradient's in the input
/// gradient), zeroed at the start of each pass (their borders must be zero,
/// and the workspace is shared), every group's weights in tap order `[groups, O/g, KH*KW*C/g]` (or
/// `[groups, C/g, KH*KW*O/g]` for the gradient), refreshed each pass, and
/// packed (`groups` blocks of `packedWeights` floats), the staging of one
/// strip's padded-width output `[O/g, columns]`, then for the weight gradient
/// the transposed planes and the tap-ordered gradient `[groups, O/g, KH*KW*C/g]`;
/// for a strided input gradient, last, one sub-kernel and its tap order.
public struct TapAlgorithm: EpilogueFusing, PoolStoring {
    public static let name = "taps"
    let shape: ConvolutionShape
    let plan: TapConvolution
    /// The input gradient's plan (nil: that pass is not supported).
    let gradientPlan: TapConvolution?
    /// The strided input gradient's phases (nil at stride 1).
    let strided: TapStridedGradient?
    /// Floats per group of the packed weights (the larger of both plans').
    let packedWeights: Int
    /// Offsets of the workspace regions above, in floats.
    let padded: Int, ordered: Int, packed: Int, staging: Int, transposed: Int, orderedGradient: Int, subKernel: Int
    public let workspaceFloats: Int

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool {
        let g = shape.geometry
        guard !g.isDilated else { return false }
        switch pass {
        case .forward: return true
        case .inputGradient:
            return g.strideH > 1 || g.strideW > 1 || (g.padH <= g.kernelH - 1 && g.padW <= g.kernelW - 1)
        case .weightGradient: return g.channels % 16 == 0
        }
    }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        self.shape = shape
        plan = tapPlan(shape, maxBatch: maxBatch)
        gradientPlan = plan.inputGradient
        strided = TapStridedGradient(shape, maxBatch: maxBatch)
        packedWeights = max(plan.packedWeightCount, gradientPlan?.packedWeightCount ?? 0, strided?.packedWeightCount ?? 0)
        let weightGradient = Self.supports(shape, .weightGradient)
        let weightCount = shape.groups * shape.groupWeights
        var end = 0
        func region(_ count: Int) -> Int { defer { end += alignedFloats(count) }; return end }
        padded = region(max(plan.paddedCount, gradientPlan?.paddedCount ?? 0, strided?.paddedCount ?? 0))
        ordered = region(weightCount)
        packed = region(shape.groups * packedWeights)
        staging = region(max(plan.outputs * plan.columns, gradientPlan.map { $0.outputs * $0.columns } ?? 0,
                             strided?.stagingCount ?? 0))
        transposed = region(weightGradient ? plan.transposedCount : 0)
        orderedGradient = region(weightGradient ? weightCount : 0)
        subKernel = region(strided?.scratchCount ?? 0)
        workspaceFloats = end
    }

    /// Reorders (`rotated`: and rotates) every group's weights into tap order
    /// and packs them for `plan`.
    private func packTapWeights(_ weights: UnsafePointer<Float>, for plan: TapConvolution, rotated: Bool,
                                workspace w: UnsafeMutablePointer<Float>) {
        let geometry = shape.geometry
        for g in 0..<shape.groups {
            let dst = w + ordered + g * shape.groupWeights
            tapOrderWeights(weights + g * shape.groupWeights, outputs: shape.outputs, channels: geometry.channels,
                            kernelH: geometry.kernelH, kernelW: geometry.kernelW, rotated: rotated, into: dst)
            plan.packWeights(dst, into: w + packed + g * packedWeights)
        }
    }

    /// `out_n (+)= conv_plan(source_n)` for group `g` of every image, a strip
    /// of images at a time: pad them, one tap GEMM, copy (or add) each one's
    /// valid columns out, then apply `epilogue` (of this group's channels) to
    /// them while they are in cache. Slots left empty by a short last strip
    /// hold stale images, whose outputs are computed and dropped.
    private func convolve(_ plan: TapConvolution, group g: Int, source: UnsafePointer<Float>, sourceStride: Int,
                          padded: UnsafeMutablePointer<Float>, workspace w: UnsafeMutablePointer<Float>,
                          into out: UnsafeMutablePointer<Float>, outStride: Int, batch: Int, accumulate: Bool,
                          epilogue: ChannelEpilogue = .none, pooled: PooledStore? = nil) {
        let stage = w + staging, packedWeights = w + packed + g * self.packedWeights
        let inPlane = plan.height * plan.width
        let outPlane = pooled.map { $0.geometry.outH * $0.geometry.outW } ?? plan.outH * plan.outW
        let inExtract = !accumulate && epilogue.appliesInCopy(spatial: outPlane)
        var first = 0
        while first < batch {
            let count = min(plan.images, batch - first)
            for slot in 0..<count {
                plan.pad(source + (first + slot) * sourceStride + g * plan.channels * inPlane, slot: slot,
                         channelStride: inPlane, into: padded)
            }
            plan.multiply(packedWeights: packedWeights, padded: padded, beta: 0, into: stage, ldOut: plan.columns)
            for slot in 0..<count {
                let image = out + (first + slot) * outStride + g * plan.outputs * outPlane
                if let pooled {
                    pooled.store(stage + slot * plan.slotPitch, channels: plan.outputs, rowPitch: plan.paddedW,
                                 planePitch: plan.columns, epilogue: epilogue, into: image)
                    continue
                }
                if inExtract, let bias = epilogue.bias {
                    plan.extract(stage, ldOut: plan.columns, slot: slot, into: image, channelStride: outPlane, bias: bias,
                                 rectify: epilogue.rectify)
                    continue
                }
                plan.extract(stage, ldOut: plan.columns, slot: slot, into: image, channelStride: outPlane, accumulate: accumulate)
                if epilogue.fusable {
                    epilogue.applySeparately(image, sampleStride: plan.outputs * outPlane, batch: 1, channels: plan.outputs,
                                             spatial: outPlane)
                }
            }
            first += count
        }
    }

    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, workspace: ConvolutionWorkspace) {
        forward(x, inputStride: inputStride, weights: weights, into: y, outputStride: outputStride, batch: batch,
                epilogue: .none, workspace: workspace)
    }

    /// The forward pass with the epilogue applied to each image's outputs
    /// right after they are copied out (`EpilogueFusing`: the same passes
    /// as after the whole batch, on data still in cache).
    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                        outputStride: Int, batch: Int, epilogue: ChannelEpilogue, workspace: ConvolutionWorkspace) {
        forwardPass(x, inputStride: inputStride, weights: weights, into: y, outputStride: outputStride, batch: batch,
                    epilogue: epilogue, pooled: nil, workspace: workspace)
    }

    /// The forward pass, storing the outputs or (`pooled`) their max pool.
    private func forwardPass(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                             into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, epilogue: ChannelEpilogue,
                             pooled: PooledStore?, workspace: ConvolutionWorkspace) {
        let w = workspace.floats
        (w + padded).update(repeating: 0, count: plan.paddedCount)
        packTapWeights(weights, for: plan, rotated: false, workspace: w)
        for g in 0..<shape.groups {
            convolve(plan, group: g, source: x, sourceStride: inputStride, padded: w + padded, workspace: w,
                     into: y, outStride: outputStride, batch: batch, accumulate: false,
                     epilogue: epilogue.forChannels(from: g * plan.outputs), pooled: pooled)
        }
    }

    /// `PoolStoring`: each strip's staged outputs pooled straight into `y`.
    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                        pooled: PooledStore, batch: Int, epilogue: ChannelEpilogue, workspace: ConvolutionWorkspace) {
        precondition(pooled.takes(channels: shape.groups * plan.outputs, height: plan.outH, width: plan.outW), "a pooled store's geometry must take the convolution's output")
        forwardPass(x, inputStride: inputStride, weights: weights, into: y, outputStride: pooled.outputStride, batch: batch,
                    epilogue: epilogue, pooled: pooled, workspace: workspace)
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int,
                              workspace: ConvolutionWorkspace) {
        let w = workspace.floats
        if let strided {
            (w + padded).update(repeating: 0, count: strided.paddedCount)
            for g in 0..<shape.groups {
                strided.packWeights(weights + g * shape.groupWeights, scratch: w + subKernel, into: w + packed + g * packedWeights)
            }
            for g in 0..<shape.groups {
                strided.accumulate(dy + shape.outputGroupOffset(g), outputStride: outputStride, outChannelStride: shape.outputPlane,
                                   packed: w + packed + g * packedWeights, padded: w + padded, stage: w + staging,
                                   into: dx + shape.inputGroupOffset(g), inputStride: inputStride,
                                   inChannelStride: shape.inputPlane, batch: batch)
            }
            return
        }
        guard let gradientPlan else { preconditionFailure("tap input gradient of an unsupported shape") }
        (w + padded).update(repeating: 0, count: gradientPlan.paddedCount)
        packTapWeights(weights, for: gradientPlan, rotated: true, workspace: w)
        for g in 0..<shape.groups {
            convolve(gradientPlan, group: g, source: dy, sourceStride: outputStride, padded: w + padded, workspace: w,
                     into: dx, outStride: inputStride, batch: batch, accumulate: true)
        }
    }

    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        precondition(Self.supports(shape, .weightGradient), "tap weight gradient of an unsupported shape")
        let w = workspace.floats, geometry = shape.geometry
        stripWeightGradient(plan, shape, x, inputStride: inputStride, dy, outputStride: outputStride, batch: batch,
                            padded: w + padded, ordered: w + orderedGradient, depth: geometry.columnRows) { count, gradient, into in
            plan.transpose(w + padded, into: w + transposed)
            plan.accumulateWeightGradient(gradient: gradient, sampleStride: outputStride, channelStride: shape.outputPlane,
                                          transposed: w + transposed, images: count, into: into)
        }
        for g in 0..<shape.groups {
            addTapOrderGradient(w + orderedGradient + g * shape.groupWeights, outputs: shape.outputs, channels: geometry.channels,
                                kernelH: geometry.kernelH, kernelW: geometry.kernelW, into: dW + g * shape.groupWeights)
        }
    }
}

/// The tap plan of one group of `shape`: strips of images at stride 1 (the
/// strip size from maxBatch, so results do not depend on the worker count).
func tapPlan(_ shape: ConvolutionShape, maxBatch: Int) -> TapConvolution {
    let g = shape.geometry
    let plan = TapConvolution(channels: g.channels, height: g.height, width: g.width, outputs: shape.outputs,
                              kernelH: g.kernelH, kernelW: g.kernelW, padH: g.padH, padW: g.padW,
                              strideH: g.strideH, strideW: g.strideW)
    guard g.strideH == 1, g.strideW == 1 else { return plan }
    return plan.inStrips(of: tapStripImages(batch: maxBatch, width: g.width, padW: g.padW))
}

/// The weight gradient's walk over groups and strips, shared by the tap and
/// window algorithms: zeroes `ordered` (`[groups, O/g, depth]`) and
/// `padded` (its borders must be zero), then for each group and strip of
/// images pads the strip into `padded` and calls
/// `accumulate(images in the strip, the strip's dy of this group, the
/// group's rows of ordered)`.
@inline(__always)
func stripWeightGradient(_ plan: TapConvolution, _ shape: ConvolutionShape, _ x: UnsafePointer<Float>, inputStride: Int,
                         _ dy: UnsafePointer<Float>, outputStride: Int, batch: Int, padded: UnsafeMutablePointer<Float>,
                         ordered: UnsafeMutablePointer<Float>, depth: Int,
                         accumulate: (Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
    ordered.update(repeating: 0, count: shape.groups * shape.outputs * depth)
    padded.update(repeating: 0, count: plan.paddedCount)
    for g in 0..<shape.groups {
        var first = 0
        while first < batch {
            let count = min(plan.images, batch - first)
            for slot in 0..<count {
                plan.pad(x + (first + slot) * inputStride + shape.inputGroupOffset(g), slot: slot,
                         channelStride: shape.inputPlane, into: padded)
            }
            accumulate(count, dy + first * outputStride + shape.outputGroupOffset(g), ordered + g * shape.outputs * depth)
            first += count
        }
    }
}
