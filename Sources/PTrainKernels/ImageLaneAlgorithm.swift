/// Gradients with SIMD16 lanes over 16 images, for stride-1 layers too
/// narrow for the GEMMs' tiles: the input gradient of layers with few input
/// channels (fewer than 16) and kernels of 5 or more both ways (LeNet's
/// conv2: 6 -> 16 channels, 5x5, no padding, 14x14 -> 10x10) and the weight
/// gradient of layers with few filters (ImageLaneWeightGradient.swift;
/// LeNet's conv1). The forward pass in these lanes did not pay: LeNet's
/// conv1 forward ran no faster than the taps (transposing its 6 output
/// planes back to images cost what the lanes saved; docs/benchmarks.md).
///
/// Why, for the input gradient: it is the full correlation of dy with the
/// rotated weights, and the tap GEMM (TapAlgorithm) runs it over dy padded
/// by K - 1 - pad on every side: for LeNet's conv2 it multiplied 605k
/// weights by dy values per image, of which 240k are not padding zeros, and
/// took 1.8x the forward pass (0.072 against 0.039 ms per shard of 16).
/// With an image per lane every multiply serves 16 images and a pixel's
/// taps can be cut: rows whose dy row lies outside the plane are skipped,
/// and a block of 4 pixels of a row runs only the kernel columns one of its
/// pixels needs (LeNet: 64 pixel-column pairs per row, 50 of them not
/// reading the zero borders).
///
/// Per group of 16 images: dy is transposed into image vectors `dyT[O, OH,
/// rowLength]` (zero borders of `border = KW - 1 - padW` pixels on the left
/// and up to `rowLength` on the right), a block of up to 6 channels x 4
/// pixels of one dx row (24 accumulators) sums `W[o, c, ky, kx] *
/// dyT[o, oy, ox]` over the filters, the valid kernel rows and the block's
/// kernel columns (6 weight broadcasts and 4 vector loads per 24 FMAs) into
/// `dxT[C, H * W]`, and dxT is transposed back and added into dx. A
/// missing image's lanes are zero and never stored, and each image's sums
/// run in the same order whatever its lane, so the result depends on
/// neither the batch's grouping nor the worker count.
///
/// Where: the tap GEMM's waste grows with the gradient's padding K - 1 -
/// pad. Per layer (`ptrain bench` of a probe network, one thread, shards of
/// 16, backward ms, taps -> image lanes): 6 -> 16 5x5 on 14x14 pad 0
/// 0.117 -> 0.085, pad 1 0.15 -> 0.12, pad 2 0.156 -> 0.148; 3 -> 32 5x5
/// on 28x28 pad 2 1.44 -> 0.63; 12 -> 64 5x5 on 24x24 pad 0 2.9 -> 2.7;
/// but 12 -> 16 3x3 on 32x32 pad 1 0.59 -> 0.70 and pad 0 0.50 -> 0.54,
/// hence kernels of 5 or more.
///
/// Workspace of the input gradient: the weights in `[O, KH, KW, C]` order,
/// dyT and dxT; of the weight gradient: its own (the passes never overlap).
public struct ImageLaneAlgorithm: GradientsOnly {
    public static let name = "image lanes"
    let shape: ConvolutionShape
    /// dx pixels per row the blocks compute (W rounded up to whole 4-pixel
    /// blocks), pixels per row of dyT and per plane of dxT.
    let pitch: Int, rowLength: Int, dxPlane: Int
    /// Zero pixels before a dyT row's first dy pixel (`KW - 1 - padW`).
    let border: Int
    let ordered: Int, dyT: Int, dxT: Int
    /// The weight gradient's plan (ImageLaneWeightGradient.swift).
    let weightPlan: ImageLaneWeightPlan
    public let workspaceFloats: Int

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool {
        let g = shape.geometry
        guard shape.groups == 1, !g.isDilated, g.strideH == 1, g.strideW == 1 else { return false }
        switch pass {
        case .forward: return false
        case .inputGradient:
            return g.channels < 16 && g.kernelH >= 5 && g.kernelW >= 5 && g.padH <= g.kernelH - 1 && g.padW <= g.kernelW - 1
        case .weightGradient: return ImageLaneWeightPlan.supports(shape)
        }
    }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        precondition(Self.supports(shape, .inputGradient) || Self.supports(shape, .weightGradient),
                     "image lanes: stride-1 gradients of few channels or few filters")
        self.shape = shape
        let g = shape.geometry
        pitch = (g.width + 3) / 4 * 4
        border = g.kernelW - 1 - g.padW
        // Pixel ix of a block reads dyT at ix + padW - kx + border (>= 0):
        // at most pitch - 1 + KW - 1.
        rowLength = pitch + g.kernelW - 1
        dxPlane = laneResultPixels(g.height * g.width)
        var end = 0
        func region(_ count: Int) -> Int { defer { end += alignedFloats(count) }; return end }
        let input = Self.supports(shape, .inputGradient)
        ordered = region(input ? shape.outputs * g.columnRows : 0)
        dyT = region(input ? shape.outputs * g.outH * rowLength * 16 : 0)
        dxT = region(input ? g.channels * dxPlane * 16 : 0)
        weightPlan = ImageLaneWeightPlan(shape)
        workspaceFloats = max(end, weightPlan.workspaceFloats)
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int,
                              workspace: ConvolutionWorkspace) {
        let g = shape.geometry, w = workspace.floats, outputs = shape.outputs, channels = g.channels
        let taps = g.kernelH * g.kernelW
        // [O, C, KH, KW] -> [O, KH, KW, C]: a block's channels side by side.
        for o in 0..<outputs {
            for c in 0..<channels {
                for t in 0..<taps { w[ordered + (o * taps + t) * channels + c] = weights[(o * channels + c) * taps + t] }
            }
        }
        zeroBorders(w + dyT)
        var first = 0
        while first < batch {
            let count = min(16, batch - first)
            transposeGradient(dy + first * outputStride, outputStride: outputStride, count: count, into: w + dyT)
            accumulateBlocks(w + ordered, w + dyT, into: w + dxT)
            addTransposed(w + dxT, into: dx + first * inputStride, inputStride: inputStride, count: count)
            first += count
        }
    }

    /// Zeroes every dyT row's pixels outside `[border, border + OW)`; the
    /// transposes write only the inside.
    private func zeroBorders(_ t: UnsafeMutablePointer<Float>) {
        let g = shape.geometry, tail = rowLength - border - g.outW
        for row in 0..<(shape.outputs * g.outH) {
            let r = t + row * rowLength * 16
            r.update(repeating: 0, count: border * 16)
            (r + (border + g.outW) * 16).update(repeating: 0, count: tail * 16)
        }
    }

    /// dy of `count` images into dyT's image vectors, after each row's
    /// left border.
    private func transposeGradient(_ dy: UnsafePointer<Float>, outputStride: Int, count: Int, into t: UnsafeMutablePointer<Float>) {
        let g = shape.geometry
        transposeToImageLanes(dy, sampleStride: outputStride, count: count, planes: shape.outputs, height: g.outH, width: g.outW,
                              into: t + border * 16, planeFloats: g.outH * rowLength * 16, rowFloats: rowLength * 16)
    }

    /// dxT = every block's sums (all of dxT is written).
    private func accumulateBlocks(_ ordered: UnsafePointer<Float>, _ t: UnsafePointer<Float>, into d: UnsafeMutablePointer<Float>) {
        let g = shape.geometry, channels = g.channels
        var c0 = 0
        while c0 < channels {
            let cb = min(6, channels - c0)
            for iy in 0..<g.height {
                // Kernel rows whose dy row oy = iy + padH - ky is in the plane.
                let kyLow = max(0, iy + g.padH - g.outH + 1), kyHigh = min(g.kernelH - 1, iy + g.padH)
                for ix0 in stride(from: 0, to: pitch, by: 4) {
                    // Kernel columns some pixel of the block needs (ox = ix + padW - kx in the row).
                    let kxLow = max(0, ix0 + g.padW - g.outW + 1), kxHigh = min(g.kernelW - 1, ix0 + 3 + g.padW)
                    // Kernel row ky, column kx reads dy row iy + padH - ky,
                    // dyT column ix + padW - kx + border.
                    let block = ImageLaneBlock(
                        weights: ordered + c0, weightStride: channels, kernelW: g.kernelW, kernelH: g.kernelH,
                        source: t + ((iy + g.padH) * rowLength + ix0 + g.padW + border) * 16,
                        planeFloats: g.outH * rowLength * 16, planes: shape.outputs,
                        rowStep: -rowLength * 16, columnStep: -16, kyLow: kyLow, kyHigh: kyHigh, kxLow: kxLow, kxHigh: kxHigh,
                        out: d + (c0 * dxPlane + iy * g.width + ix0) * 16, outPlaneFloats: dxPlane * 16)
                    imageLaneBlock(block, channels: cb)
                }
            }
            c0 += cb
        }
    }

    /// dx (+)= dxT's planes, for `count` images.
    private func addTransposed(_ d: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, inputStride: Int, count: Int) {
        let plane = shape.inputPlane, whole = plane / 16 * 16
        for c in 0..<shape.geometry.channels {
            let source = d + c * dxPlane * 16, target = dx + c * plane
            var p = 0
            while p < whole {
                var block = Block16x16(rows: source + p * 16, stride: 16)
                block.transpose()
                block.forEachRow { n, v in
                    if n < count {
                        let row = target + n * inputStride + p
                        storeVector(loadVector(row) + v, row)
                    }
                }
                p += 16
            }
            for q in whole..<plane {
                for n in 0..<count { target[n * inputStride + q] += source[q * 16 + n] }
            }
        }
    }
}

/// Pixels per result plane of the block kernel, stored densely (pixel (r,
/// x) of a plane of width w at r * w + x): the plane, rounded up to whole
/// 16-pixel chunks, with room for the up to 3 pixels a row's last 4-pixel
/// block computes past the row. Those land on the next row's first pixels,
/// which that row's blocks, computed later, overwrite; past the last row,
/// in this room.
func laneResultPixels(_ plane: Int) -> Int { (plane + 3 + 15) / 16 * 16 }

/// `planes` planes of height x width of `count` images (image n's at `src
/// + n * sampleStride`) into image vectors: pixel (plane p, row h, column
/// w) of image n at `dst[p * planeFloats + h * rowFloats + w * 16 + n]`.
/// 16 pixels x 16 images at a time, transposed in registers; a plane's last
/// pixels (height * width % 16) one by one. Lanes past `count` are zero.
func transposeToImageLanes(_ src: UnsafePointer<Float>, sampleStride: Int, count: Int, planes: Int, height: Int, width: Int,
                           into dst: UnsafeMutablePointer<Float>, planeFloats: Int, rowFloats: Int) {
    let plane = height * width, whole = plane / 16 * 16
    for q in 0..<planes {
        let source = src + q * plane, base = dst + q * planeFloats
        var target = PixelWalk(width: width, rowPitch: rowFloats, pixelPitch: 16)
        var p = 0
        while p < whole {
            var block = Block16x16(rows: source + p, stride: sampleStride, count: count)
            block.transpose()
            block.forEachRow { _, v in storeVector(v, base + target.next()) }
            p += 16
        }
        for r in whole..<plane {
            let d = base + target.next()
            for n in 0..<16 { d[n] = n < count ? source[n * sampleStride + r] : 0 }
        }
    }
}

/// One block's operands: 4 adjacent pixels of one row of up to 6 result
/// planes j (dx's channels), each pixel p the sum over the source planes s
/// (dy's filters), kernel rows `kyLow...kyHigh` and columns
/// `kxLow...kxHigh` of
///   weights[((s * KH + ky) * KW + kx) * weightStride + j]
///   * (image vector at source + s * planeFloats + ky * rowStep + kx * columnStep + p * 16),
/// stored at `out + j * outPlaneFloats + p * 16`. The input gradient's
/// steps are negative (a correlation with the rotated kernel); a forward
/// pass would run the same kernel with positive ones.
struct ImageLaneBlock {
    let weights: UnsafePointer<Float>, weightStride: Int, kernelW: Int, kernelH: Int
    let source: UnsafePointer<Float>, planeFloats: Int, planes: Int
    let rowStep: Int, columnStep: Int
    let kyLow: Int, kyHigh: Int, kxLow: Int, kxHigh: Int
    let out: UnsafeMutablePointer<Float>, outPlaneFloats: Int
}


@inline(never)
func imageLaneBlock(_ b: ImageLaneBlock, channels: Int) {
    switch channels {
    case 1: imageLaneBody(b, Count1.self)
    case 2: imageLaneBody(b, Count2.self)
    case 3: imageLaneBody(b, Count3.self)
    case 4: imageLaneBody(b, Count4.self)
    case 5: imageLaneBody(b, Count5.self)
    case 6: imageLaneBody(b, Count6.self)
    default: preconditionFailure("no image-lane block of \(channels) channels")
    }
}

/// 4 pixels of one channel, an image per lane.
private struct LaneQuad {
    var p0 = SIMD16<Float>(), p1 = SIMD16<Float>(), p2 = SIMD16<Float>(), p3 = SIMD16<Float>()
    @inline(__always)
    mutating func add(_ w: Float, _ d0: SIMD16<Float>, _ d1: SIMD16<Float>, _ d2: SIMD16<Float>, _ d3: SIMD16<Float>) {
        let v = SIMD16<Float>(repeating: w)
        p0 = p0.addingProduct(v, d0); p1 = p1.addingProduct(v, d1); p2 = p2.addingProduct(v, d2); p3 = p3.addingProduct(v, d3)
    }
    @inline(__always)
    func store(_ out: UnsafeMutablePointer<Float>) {
        storeVector(p0, out); storeVector(p1, out + 16); storeVector(p2, out + 32); storeVector(p3, out + 48)
    }
}

/// Each sum runs over the source planes, then the kernel rows, then the
/// kernel columns, in order.
@inline(never)
private func imageLaneBody<C: StaticCount>(_ b: ImageLaneBlock, _: C.Type) {
    let cb = C.value, stride = b.weightStride
    var a0 = LaneQuad(), a1 = LaneQuad(), a2 = LaneQuad(), a3 = LaneQuad(), a4 = LaneQuad(), a5 = LaneQuad()
    for s in 0..<b.planes {
        for ky in b.kyLow...b.kyHigh {
            let row = b.source + (s &* b.planeFloats &+ ky &* b.rowStep)
            let tapRow = b.weights + ((s &* b.kernelH &+ ky) &* b.kernelW) &* stride
            for kx in b.kxLow...b.kxHigh {
                let d = row + kx &* b.columnStep
                let d0 = loadVector(d), d1 = loadVector(d + 16), d2 = loadVector(d + 32), d3 = loadVector(d + 48)
                let w = tapRow + kx &* stride
                a0.add(w[0], d0, d1, d2, d3)
                if cb > 1 { a1.add(w[1], d0, d1, d2, d3) }
                if cb > 2 { a2.add(w[2], d0, d1, d2, d3) }
                if cb > 3 { a3.add(w[3], d0, d1, d2, d3) }
                if cb > 4 { a4.add(w[4], d0, d1, d2, d3) }
                if cb > 5 { a5.add(w[5], d0, d1, d2, d3) }
            }
        }
    }
    a0.store(b.out)
    if cb > 1 { a1.store(b.out + b.outPlaneFloats) }
    if cb > 2 { a2.store(b.out + 2 &* b.outPlaneFloats) }
    if cb > 3 { a3.store(b.out + 3 &* b.outPlaneFloats) }
    if cb > 4 { a4.store(b.out + 4 &* b.outPlaneFloats) }
    if cb > 5 { a5.store(b.out + 5 &* b.outPlaneFloats) }
}
