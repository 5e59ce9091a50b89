/// Direct convolution with one SIMD lane per filter (FilterVectorKernels.swift),
/// for layers with few input channels (fewer than 16), whole 16-filter
/// blocks and at least `minimumDepth` k steps (`C * KH * KW`): LeNet's conv2
/// (6 -> 16, 5x5 valid, depth 150).
///
/// Why: the tap GEMM (TapAlgorithm) runs such layers at 35-75% of peak. Its
/// k steps come in segments of C per tap (3 or 6 steps, then a new B
/// pointer), and its columns are padded rows: a valid 5x5 on 14x14
/// computes 14 columns for every 10 outputs. Here every FMA is useful and
/// the k loop's only overhead is one weight-vector load per 12 FMAs
/// (FilterVectorKernels.swift): the kernel alone, hot in cache, ran LeNet's
/// conv2 at ~97% of one core's peak, where the taps' per-layer figure is 44-57%.
///
/// Passes: forward (stride 1, any kernel size and padding, with the
/// epilogue and max pool fused into the store) and the weight gradient
/// (3- or 5-wide kernels). The input gradient goes to the tap GEMM
/// (`ConvolutionChoice`): its vector would run across input channels, which
/// are few here.
///
/// Per image: the input is copied into zero-bordered planes (when padded),
/// the outputs are computed channels-last (`[OH*OW, O]`, a pixel's filters
/// contiguous) into staging, then stored NCHW 16x16 blocks at a time through
/// the epilogue, or max-pooled channels-last (`PooledStore`). The weight
/// gradient transposes dy into the same staging and sums each image's
/// products per tap into `[O/16][C*KH*KW][16]` sums, added into dW once at
/// the end of the pass.
///
/// Workspace, in order: the filter vectors `[O/16][C, KH, KW][16]`
/// (refreshed each pass), one image's padded planes `[C, H + 2 padH, W + 2 padW]`
/// (borders zeroed at the start of each pass), the channels-last staging
/// `[OH*OW, O]` and the gradient sums (as large as the weights).
public struct FilterVectorAlgorithm: EpilogueFusing, PoolStoring {
    public static let name = "filter vectors"
    let shape: ConvolutionShape
    /// Padded plane sizes (the input's when unpadded).
    let paddedH: Int, paddedW: Int
    /// The forward blocks of one output row: `(first column, pixels)`, as
    /// even as 12-pixel blocks divide the row.
    let rowBlocks: [(start: Int, count: Int)]
    /// Offsets of the workspace regions above, in floats.
    let filters: Int, padded: Int, staging: Int, sums: Int
    public let workspaceFloats: Int

    /// The fewest k steps (`C * KH * KW`) per pixel block worth a block's
    /// fixed cost (12 vector stores, the loops' set-up). Forward passes
    /// measured per shard (`ptrain bench`'s per-layer table): LeNet's conv2
    /// (depth 150, 16 images) 0.09 ms against the taps' 0.13-0.14, while
    /// ResNet-20's conv1 (3 channels 3x3, depth 27, 32 images: 0.48-0.53 ms
    /// against 0.34-0.37) and W2's conv1 (3 channels 5x5, 64 filters, depth
    /// 75, 32 images: 2.5-2.9 ms against 2.0-2.1) lost to the tap GEMM,
    /// whose rows there are whole micro-tiles without junk or strips of images.
    static let minimumDepth = 100

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool {
        let g = shape.geometry
        guard shape.groups == 1, !g.isDilated, g.strideH == 1, g.strideW == 1, shape.outputs % 16 == 0,
              g.channels < 16, g.columnRows >= minimumDepth else { return false }
        switch pass {
        case .forward: return true
        case .inputGradient: return false
        case .weightGradient: return filterVectorGradientRows(kernelW: g.kernelW) != nil
        }
    }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        precondition(Self.supports(shape, .forward),
                     "filter vectors: stride 1, whole 16-filter blocks, fewer than 16 channels, depth >= \(Self.minimumDepth)")
        self.shape = shape
        let g = shape.geometry
        paddedH = g.height + 2 * g.padH
        paddedW = g.width + 2 * g.padW
        let blocks = (g.outW + filterVectorBlock - 1) / filterVectorBlock
        var starts: [(Int, Int)] = [], start = 0
        for b in 0..<blocks {
            let count = (g.outW - start) / (blocks - b) + ((g.outW - start) % (blocks - b) == 0 ? 0 : 1)
            starts.append((start, count))
            start += count
        }
        rowBlocks = starts
        let weights = shape.outputs * g.columnRows
        var end = 0
        func region(_ count: Int) -> Int { defer { end += alignedFloats(count) }; return end }
        filters = region(weights)
        padded = region(g.padH == 0 && g.padW == 0 ? 0 : g.channels * paddedH * paddedW)
        staging = region(g.outH * g.outW * shape.outputs)
        sums = region(weights)
        workspaceFloats = end
    }

    private var isPadded: Bool { shape.geometry.padH != 0 || shape.geometry.padW != 0 }

    /// OIHW weights -> filter vectors: `out[((ob * C + c) * KH*KW + t) * 16 + lane] = W[16 ob + lane, c, t]`.
    private func packFilters(_ weights: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let depth = shape.geometry.columnRows
        for o in 0..<shape.outputs {
            let block = out + (o / 16) * depth * 16 + o % 16
            for k in 0..<depth { block[k * 16] = weights[o * depth + k] }
        }
    }

    /// Image n's input planes with every tap in bounds: `(planes, row pitch,
    /// plane pitch)`, copied into the zero-bordered planes when padded.
    private func source(_ x: UnsafePointer<Float>, workspace w: UnsafeMutablePointer<Float>) -> (UnsafePointer<Float>, Int, Int) {
        let g = shape.geometry
        guard isPadded else { return (x, g.width, g.height * g.width) }
        let planes = w + padded, plane = paddedH * paddedW
        copyIntoPaddedPlanes(x, channels: g.channels, height: g.height, width: g.width, padH: g.padH, padW: g.padW,
                             pitch: paddedW, planeStride: plane, into: planes)
        return (UnsafePointer(planes), paddedW, plane)
    }

    /// Zeroes the padded planes (their borders stay zero through the pass).
    private func clearPadding(_ w: UnsafeMutablePointer<Float>) {
        if isPadded { (w + padded).update(repeating: 0, count: shape.geometry.channels * paddedH * paddedW) }
    }

    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, workspace: ConvolutionWorkspace) {
        forwardPass(x, inputStride: inputStride, weights: weights, into: y, outputStride: outputStride, batch: batch,
                    epilogue: .none, pooled: nil, workspace: workspace)
    }

    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, epilogue: ChannelEpilogue,
                        workspace: ConvolutionWorkspace) {
        forwardPass(x, inputStride: inputStride, weights: weights, into: y, outputStride: outputStride, batch: batch,
                    epilogue: epilogue, pooled: nil, workspace: workspace)
    }

    /// `PoolStoring`: each image's channels-last outputs pooled straight into `y`.
    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, pooled: PooledStore, batch: Int, epilogue: ChannelEpilogue,
                        workspace: ConvolutionWorkspace) {
        let g = shape.geometry
        precondition(pooled.takes(channels: shape.outputs, height: g.outH, width: g.outW),
                     "a pooled store's geometry must take the convolution's output")
        forwardPass(x, inputStride: inputStride, weights: weights, into: y, outputStride: pooled.outputStride, batch: batch,
                    epilogue: epilogue, pooled: pooled, workspace: workspace)
    }

    private func forwardPass(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                             into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, epilogue: ChannelEpilogue,
                             pooled: PooledStore?, workspace: ConvolutionWorkspace) {
        let g = shape.geometry, w = workspace.floats
        let outputs = shape.outputs, depth = g.columnRows
        packFilters(weights, into: w + filters)
        clearPadding(w)
        let stage = w + staging
        for n in 0..<batch {
            let (planes, rowPitch, planePitch) = source(x + n * inputStride, workspace: w)
            for ob in 0..<(outputs / 16) {
                var block = FilterVectorBlock(x: planes, rowPitch: rowPitch, planePitch: planePitch, channels: g.channels,
                                              kernelH: g.kernelH, kernelW: g.kernelW,
                                              weights: UnsafePointer(w + filters + ob * depth * 16), out: stage,
                                              pixelStride: outputs)
                for oy in 0..<g.outH {
                    for run in rowBlocks {
                        block.x = planes + oy * rowPitch + run.start
                        block.out = stage + (oy * g.outW + run.start) * outputs + ob * 16
                        filterVectorForward(block, count: run.count)
                    }
                }
            }
            if let pooled {
                pooled.store(channelsLast: stage, count: 1, rowPitch: g.outW * outputs, imagePitch: g.outH * g.outW * outputs,
                             channels: outputs, epilogue: epilogue, into: y + n * pooled.outputStride)
            } else {
                storePlanes(stage, epilogue: epilogue, into: y + n * outputStride)
            }
        }
    }

    /// One image's channels-last outputs `[OH*OW, O]` -> NCHW `[O, OH*OW]`
    /// through `epilogue` (a no-op unless fusable), each value rounded as the
    /// separate passes round it (`ChannelEpilogue`): whole 16-pixel blocks
    /// transposed 16 channels at a time, the plane's last pixels one by one.
    private func storePlanes(_ stage: UnsafePointer<Float>, epilogue: ChannelEpilogue, into y: UnsafeMutablePointer<Float>) {
        let outputs = shape.outputs, spatial = shape.geometry.outH * shape.geometry.outW
        let whole = spatial / 16 * 16
        let fused = epilogue.fusable
        for ob in 0..<(outputs / 16) {
            var p = 0
            while p < whole {
                var block = Block16x16(rows: stage + p * outputs + ob * 16, stride: outputs)
                block.transpose()
                block.forEachRow { k, v in
                    let c = ob * 16 + k
                    let out = fused ? epilogue.apply(v, channel: c) : v
                    UnsafeMutableRawPointer(y + c * spatial + p).storeBytes(of: out, as: FilterVector.self)
                }
                p += 16
            }
            while p < spatial {
                var v = UnsafeRawPointer(stage + p * outputs + ob * 16).loadUnaligned(as: FilterVector.self)
                if fused { v = epilogue.apply(channelsFrom: ob * 16, v, inBlock: false) }
                for k in 0..<16 { y[(ob * 16 + k) * spatial + p] = v[k] }
                p += 1
            }
        }
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int,
                              workspace: ConvolutionWorkspace) {
        preconditionFailure("filter vectors compute no input gradient (ConvolutionChoice sends it to the tap GEMM)")
    }

    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        let g = shape.geometry, w = workspace.floats
        guard let blockRows = filterVectorGradientRows(kernelW: g.kernelW) else {
            preconditionFailure("filter vectors: no weight gradient for \(g.kernelW)-wide kernels")
        }
        let outputs = shape.outputs, depth = g.columnRows, taps = g.kernelH * g.kernelW
        let spatial = g.outH * g.outW
        let stage = w + staging, total = w + sums
        total.update(repeating: 0, count: outputs * depth)
        clearPadding(w)
        for n in 0..<batch {
            let (planes, rowPitch, planePitch) = source(x + n * inputStride, workspace: w)
            transposeToChannelsLast(dy + n * outputStride, spatial: spatial, into: stage)
            for ob in 0..<(outputs / 16) {
                for c in 0..<g.channels {
                    var ki = 0
                    while ki < g.kernelH {
                        let rows = min(blockRows, g.kernelH - ki)
                        filterVectorGradientBlock(rows: rows, kernelW: g.kernelW, x: planes + c * planePitch + ki * rowPitch,
                                                  rowPitch: rowPitch, dy: stage + ob * 16, pixelStride: outputs,
                                                  outH: g.outH, outW: g.outW,
                                                  into: total + ((ob * g.channels + c) * taps + ki * g.kernelW) * 16)
                        ki += rows
                    }
                }
            }
        }
        // The sums, filter vectors -> OIHW, added into dW.
        for o in 0..<outputs {
            let block = total + (o / 16) * depth * 16 + o % 16
            for k in 0..<depth { dW[o * depth + k] += block[k * 16] }
        }
    }

    /// One image's output gradient `[O, spatial]` -> channels-last `[spatial, O]`.
    private func transposeToChannelsLast(_ dy: UnsafePointer<Float>, spatial: Int, into stage: UnsafeMutablePointer<Float>) {
        let outputs = shape.outputs, whole = spatial / 16 * 16
        for ob in 0..<(outputs / 16) {
            var p = 0
            while p < whole {
                transposeBlock16(dy + ob * 16 * spatial + p, stride: spatial, into: stage + p * outputs + ob * 16, stride: outputs)
                p += 16
            }
            while p < spatial {
                for k in 0..<16 { stage[p * outputs + ob * 16 + k] = dy[(ob * 16 + k) * spatial + p] }
                p += 1
            }
        }
    }
}
