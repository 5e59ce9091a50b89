import Testing
import PTrainKernels

// WinogradConvolution (F(4x4, 3x3) and F(2x2, 5x5) on 6x6 tiles, F(4x4,
// 5x5) on 8x8) against the direct definition in Double: forward, input
// gradient and weight gradient, over batches that end in a partial block,
// outputs that are not whole tiles, and sample strides wider than one image
// (concatenation slices). Tolerance: `winogradTolerance`.

/// (channels, outputs, height, width, kernel, pad, output tile edge)
let winogradCases: [(Int, Int, Int, Int, Int, Int, Int)] = [
    (16, 16, 8, 8, 3, 1, 4),       // ResNet stage 3 shape: 2x2 tiles
    (16, 32, 7, 9, 3, 1, 4),       // outputs not whole tiles; two column panels (32)
    (32, 16, 6, 5, 3, 0, 4),       // valid 3x3 (the gradient plan pads by 2)
    (16, 48, 12, 12, 5, 2, 2),     // same 5x5 (W2's conv2 geometry): 32 + 16 columns
    (48, 16, 5, 7, 5, 1, 2),       // 5x5, pad 1: output 3x5, half tiles
    (16, 16, 3, 3, 5, 2, 2),       // one tile row and column, mostly padding
    (64, 64, 4, 4, 3, 1, 4),       // 64 channels: 4 accumulation panels
    (16, 48, 12, 12, 5, 2, 4),     // the 8x8 tiles of W2's conv2: 3x3 tiles per image
    (64, 64, 12, 12, 5, 2, 4),     // W2's conv2 channels: 4 accumulation panels
    (48, 16, 5, 7, 5, 1, 4),       // 8x8 tiles, output 3x5: one partial tile row
    (16, 32, 9, 10, 5, 2, 4),      // 8x8 tiles, output 9x10: a 1- and a 2-pixel overhang
    (16, 16, 3, 3, 5, 2, 4),       // one 8x8 tile, mostly padding
]

/// Allowed error, as a fraction of max(1, |value|): the transforms'
/// coefficients (up to 5 for 3x3, 8 for 5x5 on 6x6 tiles) make the rounding
/// error about 10x the direct sum's (measured worst 1.2e-4, 64 channels
/// 3x3); on 8x8 tiles (21/4 in B^T, 8 in A^T, 32/45 in G) it is about 3x
/// that again (a float32 simulation of 64-channel 5x5 tiles: median 1.1e-4
/// against 3.7e-5 on 6x6; measured worst here 3.1e-4, 64 channels).
func winogradTolerance(_ p: WinogradConvolution) -> Float { p.alpha == 8 ? 6e-4 : 3e-4 }

/// Images per block tried for each case; the batch of 5 ends in a partial block.
let winogradBlocks = [1, 2, 3]
let winogradBatch = 5

func winogradPlan(_ c: (Int, Int, Int, Int, Int, Int, Int), images: Int) -> WinogradConvolution {
    WinogradConvolution(channels: c.0, outputs: c.1, height: c.2, width: c.3, kernel: c.4, pad: c.5, images: images,
                        tile: c.6)
}

/// Calls `body(yIndex, wIndex, xIndex)` for each product of the direct
/// convolution of one image (flat indices within the image and OIHW weights).
func forEachWinogradProduct(_ p: WinogradConvolution, _ body: (Int, Int, Int) -> Void) {
    let r = p.kernel
    for o in 0..<p.outputs { for oy in 0..<p.outH { for ox in 0..<p.outW {
        for c in 0..<p.channels { for ki in 0..<r { for kj in 0..<r {
            let iy = oy + ki - p.pad, ix = ox + kj - p.pad
            guard iy >= 0, iy < p.height, ix >= 0, ix < p.width else { continue }
            body((o * p.outH + oy) * p.outW + ox, ((o * p.channels + c) * r + ki) * r + kj, (c * p.height + iy) * p.width + ix)
        } } }
    } } }
}

/// Runs `body` with a zero-filled set of the plan's buffers.
func withWinogradBuffers<R>(_ p: WinogradConvolution, _ body: (WinogradBuffers) -> R) -> R {
    var padded = [Float](repeating: 0, count: p.paddedCount)
    var transformed = [Float](repeating: 0, count: p.transformedInputCount)
    var products = [Float](repeating: 0, count: p.productCount)
    var tiled = [Float](repeating: 0, count: p.tiledOutputCount)
    // The scratch holds SIMD16 vectors: 64-byte aligned, as a FloatBuffer.
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: 4 * WinogradConvolution.scratchCount, alignment: 64)
        .bindMemory(to: Float.self, capacity: WinogradConvolution.scratchCount)
    defer { scratch.deallocate() }
    return padded.withUnsafeMutableBufferPointer { a in transformed.withUnsafeMutableBufferPointer { b in
        products.withUnsafeMutableBufferPointer { c in tiled.withUnsafeMutableBufferPointer { d in
            body(WinogradBuffers(padded: a.baseAddress!, transformed: b.baseAddress!, products: c.baseAddress!,
                                 tiled: d.baseAddress!, scratch: scratch))
        } }
    } }
}

/// The forward pass's transformed weights U of OIHW `w`.
func forwardWeights(_ p: WinogradConvolution, _ w: [Float]) -> [Float] {
    var u = [Float](repeating: 0, count: p.transformedWeightCount)
    var scratch = [Float](repeating: 0, count: p.weightScratchCount)
    u.withUnsafeMutableBufferPointer { ub in scratch.withUnsafeMutableBufferPointer { sb in
        p.transformWeights(w, transposed: false, scratch: sb.baseAddress!, into: ub.baseAddress!, workspace: GEMMWorkspace())
    } }
    return u
}

/// `winogradBatch` samples of `count` floats, `stride` apart (stride > count: gaps hold 7s).
func strided(_ count: Int, stride: Int, seed: UInt64) -> [Float] {
    var out = [Float](repeating: 7, count: winogradBatch * stride)
    for n in 0..<winogradBatch {
        let v = randomFloats(count, seed: seed + UInt64(n))
        for i in 0..<count { out[n * stride + i] = v[i] }
    }
    return out
}

@Test("winograd: forward equals the direct convolution (blocks of 1-3 images, partial last block, strided samples, overwrite and accumulate)",
      arguments: winogradCases.indices)
func winogradForward(_ i: Int) {
    for images in winogradBlocks {
        let p = winogradPlan(winogradCases[i], images: images)
        let inCount = p.channels * p.height * p.width, outCount = p.outputs * p.outH * p.outW
        let inStride = inCount + 3, outStride = outCount + 5
        let w = randomFloats(p.outputs * p.channels * p.kernel * p.kernel, seed: UInt64(10 + i))
        let x = strided(inCount, stride: inStride, seed: UInt64(100 * i))
        for accumulate in [false, true] {
            let base = strided(outCount, stride: outStride, seed: UInt64(1000 + i))
            var y = base
            let u = forwardWeights(p, w)
            withWinogradBuffers(p) { b in
                y.withUnsafeMutableBufferPointer { yb in
                    p.forward(x, sampleStride: inStride, batch: winogradBatch, weights: u, into: yb.baseAddress!,
                              outSampleStride: outStride, accumulate: accumulate, buffers: b)
                }
            }
            for n in 0..<winogradBatch {
                var ref = [Double](repeating: 0, count: outCount)
                forEachWinogradProduct(p) { yi, wi, xi in ref[yi] += Double(w[wi]) * Double(x[n * inStride + xi]) }
                let expected = (0..<outCount).map { Float(ref[$0] + (accumulate ? Double(base[n * outStride + $0]) : 0)) }
                expectClose(Array(y[(n * outStride)..<(n * outStride + outCount)]), expected, tolerance: winogradTolerance(p),
                            "images \(images), accumulate \(accumulate), sample \(n)")
                // The gaps between samples are untouched.
                #expect(y[(n * outStride + outCount)..<(n * outStride + outStride)].allSatisfy { $0 == 7 })
            }
        }
    }
}

@Test("winograd: the input-gradient plan with transposed, rotated weights equals the direct input gradient, accumulated",
      arguments: winogradCases.indices)
func winogradInputGradient(_ i: Int) {
    for images in winogradBlocks {
        let p = winogradPlan(winogradCases[i], images: images), g = p.inputGradient
        #expect(g.outH == p.height && g.outW == p.width && g.channels == p.outputs && g.outputs == p.channels)
        let inCount = p.channels * p.height * p.width, outCount = p.outputs * p.outH * p.outW
        let w = randomFloats(p.outputs * p.channels * p.kernel * p.kernel, seed: UInt64(20 + i))
        let dy = strided(outCount, stride: outCount, seed: UInt64(200 * i + 1))
        let base = strided(inCount, stride: inCount, seed: UInt64(300 * i + 1))
        var dx = base
        var u = [Float](repeating: 0, count: g.transformedWeightCount)
        u.withUnsafeMutableBufferPointer {
            // The transposed case reads the OIHW weights in place: no scratch.
            g.transformWeights(w, transposed: true, scratch: $0.baseAddress!, into: $0.baseAddress!, workspace: GEMMWorkspace())
        }
        withWinogradBuffers(g) { b in
            dx.withUnsafeMutableBufferPointer { d in
                g.forward(dy, sampleStride: outCount, batch: winogradBatch, weights: u, into: d.baseAddress!,
                          outSampleStride: inCount, accumulate: true, buffers: b)
            }
        }
        for n in 0..<winogradBatch {
            var ref = [Double](repeating: 0, count: inCount)
            forEachWinogradProduct(p) { yi, wi, xi in ref[xi] += Double(w[wi]) * Double(dy[n * outCount + yi]) }
            let expected = (0..<inCount).map { Float(ref[$0] + Double(base[n * inCount + $0])) }
            expectClose(Array(dx[(n * inCount)..<((n + 1) * inCount)]), expected, tolerance: winogradTolerance(p), "images \(images), sample \(n)")
        }
    }
}

@Test("winograd: the weight gradient equals the direct one, added to what dW held", arguments: winogradCases.indices)
func winogradWeightGradient(_ i: Int) {
    for images in winogradBlocks {
        let p = winogradPlan(winogradCases[i], images: images)
        let inCount = p.channels * p.height * p.width, outCount = p.outputs * p.outH * p.outW
        let inStride = inCount + 2, outStride = outCount + 1
        let x = strided(inCount, stride: inStride, seed: UInt64(400 * i + 3))
        let dy = strided(outCount, stride: outStride, seed: UInt64(500 * i + 3))
        let base = randomFloats(p.outputs * p.channels * p.kernel * p.kernel, seed: UInt64(30 + i))
        var dw = base
        var du = [Float](repeating: 0, count: p.transformedWeightCount)
        withWinogradBuffers(p) { b in
            du.withUnsafeMutableBufferPointer { s in dw.withUnsafeMutableBufferPointer { d in
                p.weightGradient(x, sampleStride: inStride, dy, gradientSampleStride: outStride, batch: winogradBatch,
                                 scratch: s.baseAddress!, buffers: b, into: d.baseAddress!, workspace: GEMMWorkspace())
            } }
        }
        var ref = base.map(Double.init)
        for n in 0..<winogradBatch {
            forEachWinogradProduct(p) { yi, wi, xi in ref[wi] += Double(dy[n * outStride + yi]) * Double(x[n * inStride + xi]) }
        }
        // A sum over 5 images' pixels: scale the tolerance by the gradient's size.
        let scale = Float(ref.map { abs($0) }.max()!)
        expectClose(dw.map { $0 / scale }, ref.map { Float($0) / scale }, tolerance: 1e-5, "images \(images)")
    }
}

@Test("winograd: 5x5 kernels take the tiles with fewer elements over the output (6x6 only for outputs 1-2 pixels high or wide); 3x3 kernels 6x6 tiles")
func winogradDefaultTile() {
    #expect(WinogradConvolution.defaultTile(kernel: 5, outH: 12, outW: 12) == 4)   // 9 tiles of 64 against 36 of 36
    #expect(WinogradConvolution.defaultTile(kernel: 5, outH: 6, outW: 6) == 4)     // 4 x 64 against 9 x 36
    #expect(WinogradConvolution.defaultTile(kernel: 5, outH: 4, outW: 4) == 4)     // 64 against 4 x 36
    #expect(WinogradConvolution.defaultTile(kernel: 5, outH: 3, outW: 3) == 4)     // 64 against 4 x 36
    #expect(WinogradConvolution.defaultTile(kernel: 5, outH: 2, outW: 4) == 4)     // 64 against 2 x 36
    #expect(WinogradConvolution.defaultTile(kernel: 5, outH: 2, outW: 2) == 2)     // 64 against 36
    #expect(WinogradConvolution.defaultTile(kernel: 5, outH: 2, outW: 9) == 2)     // 3 x 64 against 5 x 36
    #expect(WinogradConvolution.defaultTile(kernel: 5, outH: 5, outW: 1) == 2)     // 2 x 64 against 3 x 36
    #expect(WinogradConvolution.defaultTile(kernel: 3, outH: 2, outW: 2) == 4)
    let plan = WinogradConvolution(channels: 64, outputs: 64, height: 12, width: 12, kernel: 5, pad: 2)
    #expect(plan.alpha == 8 && plan.elements == 64 && plan.tilesPerImage == 9)
    #expect(plan.inputGradient.alpha == 8 && plan.inBlocks(of: 3).alpha == 8)
    let small = WinogradConvolution(channels: 64, outputs: 64, height: 12, width: 12, kernel: 5, pad: 2, tile: 2)
    #expect(small.alpha == 6 && small.elements == 36 && small.tilesPerImage == 36 && small.inBlocks(of: 2).tile == 2)
}

@Test("winograd: supports exactly stride-1 square 3x3 and 5x5 kernels over whole 16-channel vectors")
func winogradSupport() {
    #expect(WinogradConvolution.supports(channels: 16, outputs: 32, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1))
    #expect(WinogradConvolution.supports(channels: 64, outputs: 64, kernelH: 5, kernelW: 5, strideH: 1, strideW: 1, padH: 2, padW: 2))
    #expect(!WinogradConvolution.supports(channels: 3, outputs: 64, kernelH: 5, kernelW: 5, strideH: 1, strideW: 1, padH: 2, padW: 2))
    #expect(!WinogradConvolution.supports(channels: 16, outputs: 24, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1))
    #expect(!WinogradConvolution.supports(channels: 16, outputs: 16, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padH: 1, padW: 1))
    #expect(!WinogradConvolution.supports(channels: 16, outputs: 16, kernelH: 1, kernelW: 1, strideH: 1, strideW: 1, padH: 0, padW: 0))
    #expect(!WinogradConvolution.supports(channels: 16, outputs: 16, kernelH: 3, kernelW: 5, strideH: 1, strideW: 1, padH: 1, padW: 2))
    #expect(!WinogradConvolution.supports(channels: 16, outputs: 16, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 3, padW: 3))
}

@Test("winograd: the combined backward (one channels-last copy of each block of dY) gives the separate passes' bits, dx and dW accumulated",
      arguments: winogradCases.indices)
func winogradCombinedBackward(_ i: Int) {
    let c = winogradCases[i]
    let geometry = WindowGeometry(channels: c.0, height: c.2, width: c.3, kernelH: c.4, kernelW: c.4,
                                  strideH: 1, strideW: 1, padH: c.5, padW: c.5)
    let shape = ConvolutionShape(geometry: geometry, outputs: c.1, groups: 1)
    // Planned for one image more: the blocks of the small shapes end in a partial one.
    let algorithm = WinogradAlgorithm(shape, maxBatch: winogradBatch + 1), batch = winogradBatch
    #expect(algorithm.combinesBackward)
    guard algorithm.combinesBackward else { return }
    let inCount = c.0 * c.2 * c.3, outCount = c.1 * geometry.columnCols
    let inStride = inCount + 3, outStride = outCount + 1
    let x = strided(inCount, stride: inStride, seed: UInt64(700 * i + 1)), dy = strided(outCount, stride: outStride, seed: UInt64(800 * i + 1))
    let w = randomFloats(c.1 * c.0 * c.4 * c.4, seed: UInt64(40 + i))
    let dxBase = randomFloats(batch * inStride, seed: UInt64(50 + i)), dwBase = randomFloats(w.count, seed: UInt64(60 + i))
    let gemm = GEMMWorkspace()
    func run(combined: Bool) -> (dx: [Float], dw: [Float]) {
        var dx = dxBase, dw = dwBase
        var workspace = [Float](repeating: .nan, count: algorithm.workspaceFloats)
        workspace.withUnsafeMutableBufferPointer { ws in dx.withUnsafeMutableBufferPointer { gx in dw.withUnsafeMutableBufferPointer { gw in
            let work = ConvolutionWorkspace(floats: ws.baseAddress!, gemm: gemm)
            if combined {
                algorithm.backward(x, inputStride: inStride, dy, outputStride: outStride, weights: w, inputGradient: gx.baseAddress!,
                                   weightGradient: gw.baseAddress!, batch: batch, workspace: work)
            } else {
                algorithm.weightGradient(x, inputStride: inStride, dy, outputStride: outStride, into: gw.baseAddress!,
                                         batch: batch, workspace: work)
                algorithm.inputGradient(dy, outputStride: outStride, weights: w, into: gx.baseAddress!, inputStride: inStride,
                                        batch: batch, workspace: work)
            }
        } } }
        return (dx, dw)
    }
    let separate = run(combined: false), combined = run(combined: true)
    #expect(combined.dw.map(\.bitPattern) == separate.dw.map(\.bitPattern))
    #expect(combined.dx.map(\.bitPattern) == separate.dx.map(\.bitPattern))
    #expect(combined.dw != dwBase && combined.dx != dxBase)
}

@Test("winograd: a 16-channel 16-filter layer (its element GEMMs with U in registers) gives bitwise the first 16 outputs of the 32-filter layer with the same first filters (the general micro-kernel's sums)")
func winogradSixteenFilterProducts() {
    for images in winogradBlocks {
        // 10x10 outputs: 9 tiles per image, so blocks of 9, 18, 27 tiles end in partial groups of 8.
        let narrow = WinogradConvolution(channels: 16, outputs: 16, height: 10, width: 10, kernel: 3, pad: 1, images: images, tile: 4)
        let wide = WinogradConvolution(channels: 16, outputs: 32, height: 10, width: 10, kernel: 3, pad: 1, images: images, tile: 4)
        let w16 = randomFloats(16 * 16 * 9, seed: 41)
        let w32 = w16 + randomFloats(16 * 16 * 9, seed: 42)   // OIHW: filters 0-15 are w16's
        let x = randomFloats(winogradBatch * 16 * 100, seed: 43)
        func run(_ p: WinogradConvolution, _ w: [Float]) -> [Float] {
            var y = [Float](repeating: .nan, count: winogradBatch * p.outputs * 100)
            let u = forwardWeights(p, w)
            withWinogradBuffers(p) { b in
                y.withUnsafeMutableBufferPointer { yb in
                    p.forward(x, sampleStride: 16 * 100, batch: winogradBatch, weights: u, into: yb.baseAddress!,
                              outSampleStride: p.outputs * 100, accumulate: false, buffers: b)
                }
            }
            return y
        }
        let y16 = run(narrow, w16), y32 = run(wide, w32)
        var differing = 0
        for n in 0..<winogradBatch {
            for i in 0..<(16 * 100) where y16[n * 1600 + i].bitPattern != y32[n * 3200 + i].bitPattern { differing += 1 }
        }
        #expect(differing == 0, "images \(images): \(differing) of \(winogradBatch * 1600) outputs differ")
    }
}
