/// The weight gradient of an undilated stride-1 convolution of any channel count as
/// one GEMM over window planes (WindowGradient.swift), a strip of images at
/// a time. Forward and input gradient: not supported.
///
/// Workspace, in order: one strip's padded input planes of one group
/// (zeroed at the start of each pass), their window planes (whose slack
/// feeds only dropped columns: left as found), and the window-ordered
/// gradient `[groups, O/g, windowDepth]`.
public struct WindowAlgorithm: WeightGradientOnly {
    public static let name = "window planes"
    let shape: ConvolutionShape
    let plan: TapConvolution
    /// Offsets of the workspace regions above, in floats.
    let padded: Int, windows: Int, ordered: Int
    public let workspaceFloats: Int

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool {
        pass == .weightGradient && shape.geometry.strideH == 1 && shape.geometry.strideW == 1 && !shape.geometry.isDilated
    }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        precondition(Self.supports(shape, .weightGradient))
        self.shape = shape
        plan = tapPlan(shape, maxBatch: maxBatch)
        var end = 0
        func region(_ count: Int) -> Int { defer { end += alignedFloats(count) }; return end }
        padded = region(plan.paddedCount)
        windows = region(plan.windowCount)
        ordered = region(shape.groups * shape.outputs * plan.windowDepth)
        workspaceFloats = end
    }

    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        let w = workspace.floats, geometry = shape.geometry, depth = plan.windowDepth
        stripWeightGradient(plan, shape, x, inputStride: inputStride, dy, outputStride: outputStride, batch: batch,
                            padded: w + padded, ordered: w + ordered, depth: depth) { count, gradient, into in
            plan.gatherWindows(w + padded, into: w + windows)
            plan.accumulateWindowGradient(gradient: gradient, sampleStride: outputStride, channelStride: shape.outputPlane,
                                          windows: w + windows, images: count, into: into)
        }
        for g in 0..<shape.groups {
            addWindowOrderGradient(w + ordered + g * shape.outputs * depth, ld: depth, outputs: shape.outputs,
                                   channels: geometry.channels, kernelH: geometry.kernelH, kernelW: geometry.kernelW,
                                   into: dW + g * shape.groupWeights)
        }
    }
}
