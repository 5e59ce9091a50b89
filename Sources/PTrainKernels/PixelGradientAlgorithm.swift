/// The weight gradient of stride-1 layers with few filters (fewer than 16,
/// where filter vectors would idle most lanes) and 3- or 5-wide kernels,
/// with SIMD16 lanes over 16 adjacent output pixels of a row: LeNet's conv1
/// (1 -> 6 channels, 5x5, padding 2, 28x28).
///
/// Why: the window-plane GEMM (WindowAlgorithm) ran LeNet's conv1 weight
/// gradient at 31-38% of peak: its k is the image's pixels but its m is
/// only 6 filters, and it gathers every window into planes first. Here,
/// per image, dy is copied into rows of whole vectors (zeros past the row's
/// end) and x into zero-bordered planes; a block is 2 filters x one kernel
/// row's `KW` taps (10 accumulators for 5x5); per output vector it loads the
/// 2 filters' dy vectors and the row's `KW` shifted input vectors: 10 FMAs
/// per 7 loads. Each accumulator is summed over the image's vectors, then
/// reduced across its lanes and added to that tap's sum; the sums (in image
/// order) go into dW at the end of the pass. The result depends on the
/// shard, never on the worker count.
///
/// Workspace: the padded input planes `[C, H + 2 padH, pitch]`, dy's rows
/// `[O, OH, 16 * vectors]` (their tails zeroed at the start of each pass),
/// and the sums `[O, C, KH, KW]`.
public struct PixelGradientAlgorithm: WeightGradientOnly {
    public static let name = "pixel vectors"
    let shape: ConvolutionShape
    /// Output vectors per row, padded-plane rows and the floats between them.
    let vectors: Int, paddedH: Int, pitch: Int
    let padded: Int, rows: Int, sums: Int
    public let workspaceFloats: Int

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool {
        let g = shape.geometry
        return pass == .weightGradient && shape.groups == 1 && !g.isDilated && g.strideH == 1 && g.strideW == 1
            && shape.outputs < 16 && (g.kernelW == 3 || g.kernelW == 5) && g.outW >= 16
    }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        precondition(Self.supports(shape, .weightGradient), "pixel vectors: weight gradients of few filters, 3- or 5-wide kernels")
        self.shape = shape
        let g = shape.geometry
        vectors = (g.outW + 15) / 16
        paddedH = g.height + 2 * g.padH
        pitch = max(g.width + 2 * g.padW, 16 * vectors + g.kernelW - 1)
        var end = 0
        func region(_ count: Int) -> Int { defer { end += alignedFloats(count) }; return end }
        padded = region(g.channels * paddedH * pitch)
        rows = region(shape.outputs * g.outH * 16 * vectors)
        sums = region(shape.outputs * g.columnRows)
        workspaceFloats = end
    }

    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        let g = shape.geometry, w = workspace.floats, outputs = shape.outputs
        let planes = w + padded, plane = paddedH * pitch, rowFloats = 16 * vectors
        let dyRows = w + rows, total = w + sums, depth = g.columnRows
        planes.update(repeating: 0, count: g.channels * plane)
        dyRows.update(repeating: 0, count: outputs * g.outH * rowFloats)
        total.update(repeating: 0, count: outputs * depth)
        let spatial = g.outH * g.outW
        for n in 0..<batch {
            let image = x + n * inputStride, gradient = dy + n * outputStride
            copyIntoPaddedPlanes(image, channels: g.channels, height: g.height, width: g.width, padH: g.padH, padW: g.padW,
                                 pitch: pitch, planeStride: plane, into: planes)
            for o in 0..<outputs {
                for oy in 0..<g.outH {
                    (dyRows + (o * g.outH + oy) * rowFloats).update(from: gradient + o * spatial + oy * g.outW, count: g.outW)
                }
            }
            var o = 0
            while o < outputs {
                let pair = min(2, outputs - o)
                for c in 0..<g.channels {
                    for ki in 0..<g.kernelH {
                        // Taps (ki, 0..<KW) of channel c, filters o and o + 1.
                        let tapSums = total + (o * g.channels + c) * g.kernelH * g.kernelW + ki * g.kernelW
                        pixelGradientBlock(PixelGradientBlock(x: planes + c * plane + ki * pitch, pitch: pitch,
                                                              dy: dyRows + o * g.outH * rowFloats, filterStride: g.outH * rowFloats,
                                                              rows: g.outH, vectors: vectors, sums: tapSums, sumFilterStride: depth),
                                           filters: pair, kernelW: g.kernelW)
                    }
                }
                o += pair
            }
        }
        for i in 0..<(outputs * depth) { dW[i] += total[i] }
    }
}

/// One block's operands: `filters` (1 or 2) filters' dy rows (`filterStride`
/// floats apart; row r at `dy + r * 16 * vectors`) against the `kernelW`
/// taps of one kernel row of one input channel (`x`: that channel's padded
/// plane at the kernel row; output vector v of row r reads `x + r * pitch +
/// 16 v + kj`). Each tap's lane-summed total is added to `sums[f *
/// sumFilterStride + kj]`.
struct PixelGradientBlock {
    let x: UnsafePointer<Float>, pitch: Int
    let dy: UnsafePointer<Float>, filterStride: Int
    let rows: Int, vectors: Int
    let sums: UnsafeMutablePointer<Float>, sumFilterStride: Int
}

private protocol PixelGradientSize { static var value: Int { get } }
private enum PixelOne: PixelGradientSize { static var value: Int { 1 } }
private enum PixelTwo: PixelGradientSize { static var value: Int { 2 } }
private enum PixelThree: PixelGradientSize { static var value: Int { 3 } }
private enum PixelFive: PixelGradientSize { static var value: Int { 5 } }

@inline(never)
func pixelGradientBlock(_ b: PixelGradientBlock, filters: Int, kernelW: Int) {
    switch (filters, kernelW) {
    case (1, 3): pixelGradientBody(b, PixelOne.self, PixelThree.self)
    case (2, 3): pixelGradientBody(b, PixelTwo.self, PixelThree.self)
    case (1, 5): pixelGradientBody(b, PixelOne.self, PixelFive.self)
    case (2, 5): pixelGradientBody(b, PixelTwo.self, PixelFive.self)
    default: preconditionFailure("no pixel-vector gradient block of \(filters) filters and \(kernelW) taps")
    }
}

/// Each accumulator sums its products over the rows and vectors in order,
/// then its 16 lanes (`SIMD.sum()`).
@inline(never)
private func pixelGradientBody<F: PixelGradientSize, KW: PixelGradientSize>(_ b: PixelGradientBlock, _: F.Type, _: KW.Type) {
    typealias V = SIMD16<Float>
    let two = F.value == 2, kw = KW.value
    var a00 = V(), a01 = V(), a02 = V(), a03 = V(), a04 = V()
    var a10 = V(), a11 = V(), a12 = V(), a13 = V(), a14 = V()
    var xRow = b.x, dRow = b.dy
    for _ in 0..<b.rows {
        for v in 0..<b.vectors {
            let d0 = UnsafeRawPointer(dRow + (v &* 16)).loadUnaligned(as: V.self)
            let d1 = two ? UnsafeRawPointer(dRow + (b.filterStride &+ v &* 16)).loadUnaligned(as: V.self) : V()
            let r = UnsafeRawPointer(xRow + (v &* 16))
            @inline(__always) func x(_ kj: Int) -> V { r.loadUnaligned(fromByteOffset: 4 * kj, as: V.self) }
            let x0 = x(0), x1 = x(1), x2 = x(2)
            a00 = a00.addingProduct(d0, x0); a01 = a01.addingProduct(d0, x1); a02 = a02.addingProduct(d0, x2)
            if two { a10 = a10.addingProduct(d1, x0); a11 = a11.addingProduct(d1, x1); a12 = a12.addingProduct(d1, x2) }
            if kw > 3 {
                let x3 = x(3), x4 = x(4)
                a03 = a03.addingProduct(d0, x3); a04 = a04.addingProduct(d0, x4)
                if two { a13 = a13.addingProduct(d1, x3); a14 = a14.addingProduct(d1, x4) }
            }
        }
        xRow += b.pitch
        dRow += 16 &* b.vectors
    }
    let s = b.sums, t = b.sumFilterStride
    s[0] += a00.sum(); s[1] += a01.sum(); s[2] += a02.sum()
    if kw > 3 { s[3] += a03.sum(); s[4] += a04.sum() }
    if two {
        s[t] += a10.sum(); s[t + 1] += a11.sum(); s[t + 2] += a12.sum()
        if kw > 3 { s[t + 3] += a13.sum(); s[t + 4] += a14.sum() }
    }
}
