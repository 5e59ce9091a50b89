/// The weight gradient of ImageLaneAlgorithm: stride-1 layers with
/// few filters (fewer than 16) and 3- or 5-wide kernels, an image per
/// SIMD16 lane: LeNet's conv1 (1 -> 6, 5x5, padding 2, 28x28).
///
/// Why: pixel vectors (lanes over 16 pixels of a row, the algorithm this
/// replaced) ran LeNet's conv1 weight gradient at 33% of peak: 10 FMAs per
/// 7 loads, rows of 28 in two vectors (4 idle lanes), and a 16-lane sum per
/// tap per image. With an image per lane, a block of 3 filters x one kernel row
/// (15 accumulators for 5x5) walks the output pixels once, sliding a window
/// of the row's 5 input vectors (one new load per pixel) against the 3
/// filters' dy vectors: 15 FMAs per 4 loads, no idle lanes when the shard
/// has 16 images, and one lane sum per tap per 16 images. Per layer (`ptrain
/// bench`, one thread, shards of 16, weight-gradient-only first layers,
/// pixel vectors -> image lanes, ms): LeNet's conv1 0.041-0.053 ->
/// 0.023-0.030; 3 -> 8 3x3 on 32x32 0.12 -> 0.08; 3 -> 6 5x5 on 32x32
/// 0.16 -> 0.095; 4 -> 12 3x3 on 16x16 0.06 -> 0.03.
///
/// Per group of 16 images: x is transposed into zero-bordered image-vector
/// planes `[C, H + 2 padH, W + 2 padW]` and dy into `[O, OH, OW]`; each
/// accumulator sums its products over the output pixels in row order, then
/// its lanes (`SIMD.sum()`), and is added to its tap's sum; the sums (in
/// group order) go into dW at the end of the pass. So the result depends
/// on the shard, never on the worker count.
struct ImageLaneWeightPlan: Sendable {
    let paddedH: Int, paddedW: Int
    /// Offsets (floats) of x's and dy's image vectors and of the sums `[O,
    /// C, KH, KW]`.
    let xT: Int, dyT: Int, sums: Int
    let workspaceFloats: Int

    /// Beyond ImageLaneAlgorithm's stride-1, one-group, undilated
    /// shapes.
    static func supports(_ shape: ConvolutionShape) -> Bool {
        let g = shape.geometry
        return shape.outputs < 16 && (g.kernelW == 3 || g.kernelW == 5)
    }

    init(_ shape: ConvolutionShape) {
        let g = shape.geometry
        paddedH = g.height + 2 * g.padH
        paddedW = g.width + 2 * g.padW
        var end = 0
        func region(_ count: Int) -> Int { defer { end += alignedFloats(count) }; return end }
        let use = Self.supports(shape)
        xT = region(use ? g.channels * paddedH * paddedW * 16 : 0)
        dyT = region(use ? shape.outputs * g.outH * g.outW * 16 : 0)
        sums = region(use ? shape.outputs * g.columnRows : 0)
        workspaceFloats = end
    }
}

extension ImageLaneAlgorithm {
    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        precondition(Self.supports(shape, .weightGradient), "image-lane weight gradient of an unsupported shape")
        let g = shape.geometry, plan = weightPlan, w = workspace.floats, outputs = shape.outputs
        let planeFloats = plan.paddedH * plan.paddedW * 16, rowFloats = plan.paddedW * 16
        let total = w + plan.sums, depth = g.columnRows
        zeroImageLaneBorders(w + plan.xT)
        total.update(repeating: 0, count: outputs * depth)
        var first = 0
        while first < batch {
            let count = min(16, batch - first)
            transposeToImageLanes(x + first * inputStride, sampleStride: inputStride, count: count, planes: g.channels,
                                  height: g.height, width: g.width, into: w + plan.xT + g.padH * rowFloats + g.padW * 16,
                                  planeFloats: planeFloats, rowFloats: rowFloats)
            transposeToImageLanes(dy + first * outputStride, sampleStride: outputStride, count: count, planes: outputs,
                                  height: g.outH, width: g.outW, into: w + plan.dyT, planeFloats: g.outH * g.outW * 16,
                                  rowFloats: g.outW * 16)
            for c in 0..<g.channels {
                var f0 = 0
                while f0 < outputs {
                    let filters = min(3, outputs - f0)
                    for ky in 0..<g.kernelH {
                        let block = ImageLaneWeightBlock(
                            x: w + plan.xT + c * planeFloats + ky * rowFloats, xRowFloats: rowFloats,
                            dy: w + plan.dyT + f0 * g.outH * g.outW * 16, filterFloats: g.outH * g.outW * 16,
                            rows: g.outH, columns: g.outW,
                            sums: total + ((f0 * g.channels + c) * g.kernelH + ky) * g.kernelW, sumFilterStride: depth)
                        imageLaneWeightBlock(block, filters: filters, kernelW: g.kernelW)
                    }
                    f0 += filters
                }
            }
            first += count
        }
        for i in 0..<(outputs * depth) { dW[i] += total[i] }
    }

    /// Zeroes the padding pixels of every xT plane; the transposes write
    /// only the inside.
    private func zeroImageLaneBorders(_ t: UnsafeMutablePointer<Float>) {
        let g = shape.geometry, plan = weightPlan, rowFloats = plan.paddedW * 16
        for c in 0..<g.channels {
            let planeStart = t + c * plan.paddedH * rowFloats
            planeStart.update(repeating: 0, count: g.padH * rowFloats)
            (planeStart + (g.padH + g.height) * rowFloats).update(repeating: 0, count: g.padH * rowFloats)
            for row in g.padH..<(g.padH + g.height) {
                let r = planeStart + row * rowFloats
                r.update(repeating: 0, count: g.padW * 16)
                (r + (g.padW + g.width) * 16).update(repeating: 0, count: g.padW * 16)
            }
        }
    }
}

/// One block's operands: `x` at one channel's padded plane, kernel row ky
/// (output pixel (oy, ox) with tap kx reads `x + oy * xRowFloats + (ox +
/// kx) * 16`); the block's first filter's dy (`dy + f * filterFloats + (oy
/// * columns + ox) * 16` for its f-th filter); tap kx of its f-th filter
/// sums into `sums[f * sumFilterStride + kx]`.
struct ImageLaneWeightBlock {
    let x: UnsafePointer<Float>, xRowFloats: Int
    let dy: UnsafePointer<Float>, filterFloats: Int
    let rows: Int, columns: Int
    let sums: UnsafeMutablePointer<Float>, sumFilterStride: Int
}

private protocol LaneSize { static var value: Int { get } }
private enum LaneSizeOne: LaneSize { static var value: Int { 1 } }
private enum LaneSizeTwo: LaneSize { static var value: Int { 2 } }
private enum LaneSizeThree: LaneSize { static var value: Int { 3 } }
private enum LaneSizeFive: LaneSize { static var value: Int { 5 } }

@inline(never)
func imageLaneWeightBlock(_ b: ImageLaneWeightBlock, filters: Int, kernelW: Int) {
    switch (filters, kernelW) {
    case (1, 3): imageLaneWeightBody(b, LaneSizeOne.self, LaneSizeThree.self)
    case (2, 3): imageLaneWeightBody(b, LaneSizeTwo.self, LaneSizeThree.self)
    case (3, 3): imageLaneWeightBody(b, LaneSizeThree.self, LaneSizeThree.self)
    case (1, 5): imageLaneWeightBody(b, LaneSizeOne.self, LaneSizeFive.self)
    case (2, 5): imageLaneWeightBody(b, LaneSizeTwo.self, LaneSizeFive.self)
    case (3, 5): imageLaneWeightBody(b, LaneSizeThree.self, LaneSizeFive.self)
    default: preconditionFailure("no image-lane weight block of \(filters) filters and \(kernelW) taps")
    }
}

/// One filter's KW taps, an image per lane.
private struct LaneTaps {
    var t0 = SIMD16<Float>(), t1 = SIMD16<Float>(), t2 = SIMD16<Float>(), t3 = SIMD16<Float>(), t4 = SIMD16<Float>()
    @inline(__always)
    mutating func add(_ d: SIMD16<Float>, _ x0: SIMD16<Float>, _ x1: SIMD16<Float>, _ x2: SIMD16<Float>,
                      _ x3: SIMD16<Float>, _ x4: SIMD16<Float>, five: Bool) {
        t0 = t0.addingProduct(d, x0); t1 = t1.addingProduct(d, x1); t2 = t2.addingProduct(d, x2)
        if five { t3 = t3.addingProduct(d, x3); t4 = t4.addingProduct(d, x4) }
    }
    @inline(__always)
    func addSums(to s: UnsafeMutablePointer<Float>, five: Bool) {
        s[0] += t0.sum(); s[1] += t1.sum(); s[2] += t2.sum()
        if five { s[3] += t3.sum(); s[4] += t4.sum() }
    }
}

/// Each accumulator sums over the output pixels in row order, then its 16
/// lanes.
@inline(never)
private func imageLaneWeightBody<F: LaneSize, KW: LaneSize>(_ b: ImageLaneWeightBlock, _: F.Type, _: KW.Type) {
    typealias V = SIMD16<Float>
    let filters = F.value, five = KW.value == 5
    var a0 = LaneTaps(), a1 = LaneTaps(), a2 = LaneTaps()
    for oy in 0..<b.rows {
        let xr = b.x + oy &* b.xRowFloats, dr = b.dy + oy &* b.columns &* 16
        // The window x[ox ..< ox + KW], slid one pixel per output.
        var x0 = loadVector(xr), x1 = loadVector(xr + 16), x2 = five ? loadVector(xr + 32) : V(), x3 = five ? loadVector(xr + 48) : V()
        for ox in 0..<b.columns {
            let last = loadVector(xr + (ox &+ KW.value &- 1) &* 16)
            let w2 = five ? x2 : last, w3 = x3, w4 = last
            let d = dr + ox &* 16
            a0.add(loadVector(d), x0, x1, w2, w3, w4, five: five)
            if filters > 1 { a1.add(loadVector(d + b.filterFloats), x0, x1, w2, w3, w4, five: five) }
            if filters > 2 { a2.add(loadVector(d + 2 &* b.filterFloats), x0, x1, w2, w3, w4, five: five) }
            if five { x0 = x1; x1 = x2; x2 = x3; x3 = last } else { x0 = x1; x1 = last }
        }
    }
    a0.addSums(to: b.sums, five: five)
    if filters > 1 { a1.addSums(to: b.sums + b.sumFilterStride, five: five) }
    if filters > 2 { a2.addSums(to: b.sums + 2 &* b.sumFilterStride, five: five) }
}
