/// Every pass by Winograd tiles (WinogradConvolution.swift): stride 1, one
/// group, undilated square 3x3 or 5x5 kernels over whole 16-channel vectors.
///
/// Workspace, in order: the padded planes (the forward plan's, or the
/// input-gradient plan's in that pass; zeroed at the start of each pass:
/// their borders must be zero, and the workspace is shared), the transform
/// buffers both plans share (transformed input,
/// products, tiled output, vector scratch), the transformed weights (forward;
/// reused as the weight gradient's accumulator) and the gradient plan's
/// transformed weights (also the forward weight transform's scratch); with
/// `combinesBackward`, the input planes of the combined backward pass.
public struct WinogradAlgorithm: EpilogueFusing, PoolStoring {
    public static let name = "winograd"
    let plan: WinogradConvolution, gradientPlan: WinogradConvolution
    /// Offsets of the workspace regions above, in floats.
    let padded: Int, transformed: Int, products: Int, tiled: Int, scratch: Int
    let weights: Int, gradientWeights: Int, inputPlanes: Int
    public let workspaceFloats: Int
    /// Whether `backward` computes both gradients in one walk, copying each
    /// block of dY once (`WinogradConvolution.sharesGradientCopy`).
    public let combinesBackward: Bool

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool {
        let g = shape.geometry
        return shape.groups == 1 && !g.isDilated
            && WinogradConvolution.supports(channels: g.channels, outputs: shape.outputs, kernelH: g.kernelH, kernelW: g.kernelW,
                                            strideH: g.strideH, strideW: g.strideW, padH: g.padH, padW: g.padW)
    }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        precondition(Self.supports(shape, .forward))
        let g = shape.geometry
        plan = WinogradConvolution(channels: g.channels, outputs: shape.outputs, height: g.height, width: g.width,
                                   kernel: g.kernelH, pad: g.padH, images: WinogradConvolution.blockImages(
                                       channels: g.channels, outputs: shape.outputs, height: g.height, width: g.width,
                                       kernel: g.kernelH, pad: g.padH, maxBatch: maxBatch))
        gradientPlan = plan.inputGradient
        var end = 0
        func region(_ count: Int) -> Int { defer { end += alignedFloats(count) }; return end }
        padded = region(max(plan.paddedCount, gradientPlan.paddedCount))
        transformed = region(max(plan.transformedInputCount, gradientPlan.transformedInputCount))
        products = region(max(plan.productCount, gradientPlan.productCount))
        tiled = region(max(plan.tiledOutputCount, gradientPlan.tiledOutputCount))
        scratch = region(WinogradConvolution.scratchCount)
        weights = region(plan.transformedWeightCount)
        gradientWeights = region(max(gradientPlan.transformedWeightCount, plan.weightScratchCount))
        combinesBackward = plan.sharesGradientCopy(with: gradientPlan)
        inputPlanes = region(combinesBackward ? plan.paddedCount : 0)
        workspaceFloats = end
    }

    /// The forward pass's input planes (`forward(prepadded: true)` reads
    /// them in place; a producer stores them with `planesOut`).
    public var inputLayout: WinogradPlanes { plan.inputLayout }

    /// The transform buffers around `plan`'s padded planes, zeroed unless
    /// `zeroPlanes` is false (a pass that does not use them).
    private func buffers(_ w: UnsafeMutablePointer<Float>, for plan: WinogradConvolution, zeroPlanes: Bool = true) -> WinogradBuffers {
        if zeroPlanes { (w + padded).update(repeating: 0, count: plan.paddedCount) }
        return WinogradBuffers(padded: w + padded, transformed: w + transformed, products: w + products, tiled: w + tiled,
                               scratch: w + scratch)
    }

    /// Floats of the forward pass's transformed weights (`prepareWeights`).
    public var preparedWeightFloats: Int { plan.transformedWeightCount }
    /// Floats of scratch `prepareWeights` needs.
    public var preparationScratchFloats: Int { plan.weightScratchCount }

    /// The forward pass's transformed weights `U` of OIHW `w`, into `u`
    /// (`preparedWeightFloats`): what every forward pass computes first,
    /// done once for an evaluation (`ConvolutionWorkspace.preparedWeights`).
    public func prepareWeights(_ w: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>,
                               scratch: UnsafeMutablePointer<Float>, gemm: GEMMWorkspace) {
        plan.transformWeights(w, transposed: false, scratch: scratch, into: u, workspace: gemm)
    }

    /// The forward pass's U: the workspace's prepared weights, or `w`
    /// transformed into the workspace.
    private func forwardWeights(_ w: UnsafePointer<Float>, _ workspace: ConvolutionWorkspace) -> UnsafePointer<Float> {
        if let prepared = workspace.preparedWeights { return prepared }
        let f = workspace.floats
        plan.transformWeights(w, transposed: false, scratch: f + gradientWeights, into: f + weights, workspace: workspace.gemm)
        return UnsafePointer(f + weights)
    }

    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights w: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, workspace: ConvolutionWorkspace) {
        forward(x, inputStride: inputStride, weights: w, into: y, outputStride: outputStride, batch: batch, epilogue: .none,
                workspace: workspace)
    }

    /// The forward pass with the epilogue applied as the tiles are stored (`EpilogueFusing`).
    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights w: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                        outputStride: Int, batch: Int, epilogue: ChannelEpilogue, workspace: ConvolutionWorkspace) {
        forward(x, inputStride: inputStride, weights: w, into: y, outputStride: outputStride, batch: batch, epilogue: epilogue,
                residual: nil, residualStride: 0, workspace: workspace)
    }

    /// The forward pass with the epilogue applied as the tiles are stored
    /// and `residual` (NCHW like y, `residualStride` floats per image) added
    /// before the epilogue's relu: a residual join folded into the store.
    /// `prepadded`: x is `inputLayout` planes, `inputStride` floats per
    /// image; `planesOut`: y is stored as those planes of the convolution
    /// that reads it (`WinogradConvolution.forward`).
    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights w: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                        outputStride: Int, batch: Int, epilogue: ChannelEpilogue, residual: UnsafePointer<Float>?,
                        residualStride: Int, prepadded: Bool = false, planesOut: WinogradPlanes? = nil,
                        workspace: ConvolutionWorkspace) {
        let f = workspace.floats
        plan.forward(x, sampleStride: inputStride, batch: batch, weights: forwardWeights(w, workspace), into: y, outSampleStride: outputStride,
                     accumulate: false, epilogue: epilogue, residual: residual, residualStride: residualStride,
                     prepadded: prepadded, planesOut: planesOut, buffers: buffers(f, for: plan, zeroPlanes: !prepadded))
    }

    /// `PoolStoring`: each block's channels-last output tiles pooled
    /// straight into `y` (`PooledStore.store(channelsLast:...)`).
    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights w: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                        pooled: PooledStore, batch: Int, epilogue: ChannelEpilogue, workspace: ConvolutionWorkspace) {
        let f = workspace.floats
        plan.forward(x, sampleStride: inputStride, batch: batch, weights: forwardWeights(w, workspace), into: y,
                     outSampleStride: pooled.outputStride,
                     accumulate: false, epilogue: epilogue, pooled: pooled, buffers: buffers(f, for: plan))
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights w: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int,
                              workspace: ConvolutionWorkspace) {
        inputGradient(dy, outputStride: outputStride, weights: w, into: dx, inputStride: inputStride, batch: batch,
                      overwrite: false, workspace: workspace)
    }

    /// `dx += dL/dx`, or with `overwrite` `dx = 0 + dL/dx` (every element:
    /// the same bits as adding into a zeroed dx, without reading it).
    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights w: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int, overwrite: Bool,
                              workspace: ConvolutionWorkspace) {
        let f = workspace.floats
        gradientPlan.transformWeights(w, transposed: true, scratch: f + gradientWeights, into: f + gradientWeights,
                                      workspace: workspace.gemm)
        gradientPlan.forward(dy, sampleStride: outputStride, batch: batch, weights: f + gradientWeights, into: dx,
                             outSampleStride: inputStride, accumulate: !overwrite, buffers: buffers(f, for: gradientPlan))
    }

    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        // The forward pass's transformed weights are not needed any more:
        // their region accumulates the transformed weight gradient.
        let f = workspace.floats
        plan.weightGradient(x, sampleStride: inputStride, dy, gradientSampleStride: outputStride, batch: batch,
                            scratch: f + weights, buffers: buffers(f, for: plan), into: dW, workspace: workspace.gemm)
    }

    /// `dx += dL/dx` (`overwrite`: `dx = 0 + dL/dx`) and `dW += dL/dW` in
    /// one walk over blocks (`combinesBackward`): bitwise `inputGradient`
    /// then `weightGradient`, with one channels-last copy of each block of
    /// dY instead of two.
    public func backward(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                         weights w: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>, overwrite: Bool = false,
                         weightGradient dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        precondition(combinesBackward)
        let f = workspace.floats
        gradientPlan.transformWeights(w, transposed: true, scratch: f + gradientWeights, into: f + gradientWeights,
                                      workspace: workspace.gemm)
        (f + inputPlanes).update(repeating: 0, count: plan.paddedCount)
        plan.backward(x, sampleStride: inputStride, dy, gradientSampleStride: outputStride, batch: batch, gradient: gradientPlan,
                      gradientWeights: f + gradientWeights, into: dx, inputGradientStride: inputStride, overwrite: overwrite,
                      scratch: f + weights,
                      buffers: buffers(f, for: gradientPlan), inputPlanes: f + inputPlanes, into: dW, workspace: workspace.gemm)
    }
}
