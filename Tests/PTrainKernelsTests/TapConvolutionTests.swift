import Testing
import PTrainKernels

// TapConvolution (stride-1 convolution as a GEMM over padded planes) against
// the direct definition, for the forward pass and for the input gradient.

/// (channels, height, width, outputs, kernelH, kernelW, padH, padW)
let tapCases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (1, 1, 1, 1, 1, 1, 0, 0),       // degenerate: one pixel, 1x1
    (3, 5, 7, 5, 3, 3, 1, 1),       // same 3x3, odd sizes, 5 rows (4-row kernel + remainder)
    (2, 6, 5, 3, 3, 3, 0, 0),       // valid 3x3 (gradient pads by 2)
    (4, 5, 5, 3, 1, 1, 1, 1),       // 1x1 with padding (no tap gradient: pad > K - 1)
    (2, 4, 9, 3, 2, 5, 0, 2),       // non-square kernel, unequal padding
    (16, 8, 8, 20, 3, 3, 1, 1),     // 8-row panels and a 4-row remainder; 80 columns (32+32+16)
    (70, 6, 5, 9, 3, 3, 1, 1),      // k = 630 > 512: two blocks of whole taps (5 + 4)
    (600, 3, 4, 3, 3, 3, 1, 1),     // channels > 512: each tap's channels split in two blocks
    (3, 32, 32, 16, 3, 3, 1, 1),    // ResNet's first stage shape
    (2, 12, 12, 6, 5, 5, 2, 2),     // same 5x5
    (4, 6, 16, 9, 3, 3, 1, 1),      // 16-wide rows: one image per plane tiles row by row (junk skipped)
    (1, 28, 28, 6, 5, 5, 2, 2),     // one channel (LeNet conv1): 25 one-step k segments
    (1, 7, 9, 3, 2, 3, 0, 1),       // one channel, non-square kernel, unequal padding
    (1, 3, 260, 2, 2, 257, 0, 0),   // one channel, 514 taps: two blocks of 257
]

func tapPlan(_ c: (Int, Int, Int, Int, Int, Int, Int, Int), images: Int = 1) -> TapConvolution {
    TapConvolution(channels: c.0, height: c.1, width: c.2, outputs: c.3, kernelH: c.4, kernelW: c.5, padH: c.6, padW: c.7,
                   images: images)
}

/// Calls `body(yIndex, wIndex, xIndex)` for every product of the direct
/// definition `y[o, oy, ox] = sum_{c, ki, kj} w[o, c, ki, kj] * x[c, oy * s + ki
/// - padH, ox * s + kj - padW]` whose input pixel is inside the image (flat
/// indices of y, w and x). The references below are sums over these triples.
func forEachProduct(_ p: TapConvolution, _ body: (Int, Int, Int) -> Void) {
    for o in 0..<p.outputs {
        for oy in 0..<p.outH {
            for ox in 0..<p.outW {
                for c in 0..<p.channels {
                    for ki in 0..<p.kernelH {
                        for kj in 0..<p.kernelW {
                            let iy = oy * p.strideH + ki - p.padH, ix = ox * p.strideW + kj - p.padW
                            guard iy >= 0, iy < p.height, ix >= 0, ix < p.width else { continue }
                            body((o * p.outH + oy) * p.outW + ox, ((o * p.channels + c) * p.kernelH + ki) * p.kernelW + kj,
                                 (c * p.height + iy) * p.width + ix)
                        }
                    }
                }
            }
        }
    }
}

/// The forward pass, in Double.
func referenceConvolution(_ x: [Float], _ w: [Float], _ p: TapConvolution) -> [Float] {
    var y = [Double](repeating: 0, count: p.outputs * p.outH * p.outW)
    forEachProduct(p) { yi, wi, xi in y[yi] += Double(w[wi]) * Double(x[xi]) }
    return y.map(Float.init)
}

/// `dx[c, iy, ix]`: the sum of `dy[o, oy, ox] * w[o, c, ki, kj]` over the products reading it.
func referenceInputGradient(_ dy: [Float], _ w: [Float], _ p: TapConvolution) -> [Float] {
    var dx = [Double](repeating: 0, count: p.channels * p.height * p.width)
    forEachProduct(p) { yi, wi, xi in dx[xi] += Double(dy[yi]) * Double(w[wi]) }
    return dx.map(Float.init)
}

/// `dW[o, c, ki, kj]`: the sum of `dy[o, oy, ox] * x[c, iy, ix]` over the products using it.
func referenceWeightGradient(_ x: [Float], _ dy: [Float], _ p: TapConvolution) -> [Float] {
    var dw = [Double](repeating: 0, count: p.outputs * p.channels * p.kernelH * p.kernelW)
    forEachProduct(p) { yi, wi, xi in dw[wi] += Double(dy[yi]) * Double(x[xi]) }
    return dw.map(Float.init)
}

/// Runs `plan` on `images` (each `[plan.channels, H, W]`) a strip of
/// `plan.images` at a time through one padded buffer (so a short last strip
/// has stale slots), with tap-order weights `ordered`, and returns each
/// image's output (`base` plus the result when accumulating).
func runTaps(_ plan: TapConvolution, images: [[Float]], ordered: [Float], accumulateOnto base: [Float]? = nil) -> [[Float]] {
    var packed = [Float](repeating: .nan, count: plan.packedWeightCount)
    var padded = [Float](repeating: 0, count: plan.paddedCount)
    var staging = [Float](repeating: .nan, count: plan.outputs * plan.columns)
    ordered.withUnsafeBufferPointer { w in packed.withUnsafeMutableBufferPointer { plan.packWeights(w.baseAddress!, into: $0.baseAddress!) } }
    var results: [[Float]] = []
    for first in stride(from: 0, to: images.count, by: plan.images) {
        let strip = Array(images[first..<min(first + plan.images, images.count)])
        for (slot, image) in strip.enumerated() {
            image.withUnsafeBufferPointer { x in
                padded.withUnsafeMutableBufferPointer {
                    plan.pad(x.baseAddress!, slot: slot, channelStride: plan.height * plan.width, into: $0.baseAddress!)
                }
            }
        }
        staging.withUnsafeMutableBufferPointer { out in
            padded.withUnsafeBufferPointer { pad in
                packed.withUnsafeBufferPointer { pw in
                    plan.multiply(packedWeights: pw.baseAddress!, padded: pad.baseAddress!, beta: 0,
                                  into: out.baseAddress!, ldOut: plan.columns)
                }
            }
        }
        for slot in strip.indices {
            var y = base ?? [Float](repeating: .nan, count: plan.outputs * plan.outH * plan.outW)
            staging.withUnsafeBufferPointer { out in
                y.withUnsafeMutableBufferPointer {
                    plan.extract(out.baseAddress!, ldOut: plan.columns, slot: slot, into: $0.baseAddress!,
                                 channelStride: plan.outH * plan.outW, accumulate: base != nil)
                }
            }
            results.append(y)
        }
    }
    return results
}

/// `w [O, C, KH, KW]` in tap order (`rotated`: for the input-gradient plan).
func tapOrdered(_ w: [Float], _ p: TapConvolution, rotated: Bool = false) -> [Float] {
    var ordered = [Float](repeating: .nan, count: w.count)
    w.withUnsafeBufferPointer { src in
        ordered.withUnsafeMutableBufferPointer {
            tapOrderWeights(src.baseAddress!, outputs: p.outputs, channels: p.channels, kernelH: p.kernelH,
                            kernelW: p.kernelW, rotated: rotated, into: $0.baseAddress!)
        }
    }
    return ordered
}

/// Relative errors at most `tolerance`; a NaN on one side only is an
/// infinite error (`max()` would skip it: NaN compares false).
func expectClose(_ a: [Float], _ b: [Float], tolerance: Float, _ what: String) {
    #expect(a.count == b.count)
    let worst = zip(a, b).map { x, y -> Float in
        if x.isNaN || y.isNaN { return x.isNaN && y.isNaN ? 0 : .infinity }
        return abs(x - y) / max(1, abs(y))
    }.max() ?? 0
    #expect(worst <= tolerance, "\(what): worst relative error \(worst)")
}

@Test("tap convolution: forward equals the direct convolution (3 images through one padded buffer, strips of 1, 2 and 3)",
      arguments: tapCases.indices)
func tapConvolutionForward(_ i: Int) {
  for strip in 1...3 {
    let p = tapPlan(tapCases[i], images: strip)
    let w = randomFloats(p.outputs * p.channels * p.kernelH * p.kernelW, seed: UInt64(100 + i))
    let images = (0..<3).map { randomFloats(p.channels * p.height * p.width, seed: UInt64(200 + 100 * $0 + i)) }
    let outputs = runTaps(p, images: images, ordered: tapOrdered(w, p))
    for (n, image) in images.enumerated() {
        expectClose(outputs[n], referenceConvolution(image, w, p), tolerance: 1e-5, "strip \(strip), image \(n)")
    }
  }
}

@Test("tap convolution: the input-gradient plan with rotated weights equals the direct input gradient, accumulated (strips of 2)", arguments: tapCases.indices)
func tapConvolutionInputGradient(_ i: Int) {
    let p = tapPlan(tapCases[i], images: 2)
    guard let g = p.inputGradient else {
        #expect(p.padH > p.kernelH - 1 || p.padW > p.kernelW - 1)
        return
    }
    #expect(g.outH == p.height && g.outW == p.width && g.outputs == p.channels && g.channels == p.outputs)
    let w = randomFloats(p.outputs * p.channels * p.kernelH * p.kernelW, seed: UInt64(400 + i))
    let dys = (0..<3).map { randomFloats(p.outputs * p.outH * p.outW, seed: UInt64(500 + 10 * i + $0)) }
    let base = randomFloats(p.channels * p.height * p.width, seed: UInt64(600 + i))
    let dxs = runTaps(g, images: dys, ordered: tapOrdered(w, p, rotated: true), accumulateOnto: base)
    for (n, dy) in dys.enumerated() {
        let expected = zip(referenceInputGradient(dy, w, p), base).map { $0 + $1 }
        expectClose(dxs[n], expected, tolerance: 1e-5, "dx of image \(n)")
    }
}

/// The weight gradient of `images` with output gradients `gradients`, a
/// strip of `p.images` at a time through one set of buffers (a short last
/// strip leaves stale slots, as in Conv2D): in tap order from transposed
/// planes, or with `windows` in window order (row stride `windowDepth`)
/// from window planes.
func tapWeightGradient(_ p: TapConvolution, images: [[Float]], gradients: [[Float]], windows: Bool = false) -> [Float] {
    var padded = [Float](repeating: 0, count: p.paddedCount)
    var planes = [Float](repeating: windows ? 0 : .nan, count: windows ? p.windowCount : p.transposedCount)
    // The output gradients side by side, 3 floats of NaN between images:
    // read in place, with a sample stride wider than one image.
    let outCount = p.outputs * p.outH * p.outW, sampleStride = outCount + 3
    var dy = [Float](repeating: .nan, count: gradients.count * sampleStride)
    for (n, g) in gradients.enumerated() { dy.replaceSubrange((n * sampleStride)..<(n * sampleStride + outCount), with: g) }
    var ordered = [Float](repeating: 0, count: p.outputs * (windows ? p.windowDepth : p.depth))
    for first in stride(from: 0, to: images.count, by: p.images) {
        let count = min(p.images, images.count - first)
        for slot in 0..<count {
            images[first + slot].withUnsafeBufferPointer { x in
                padded.withUnsafeMutableBufferPointer {
                    p.pad(x.baseAddress!, slot: slot, channelStride: p.height * p.width, into: $0.baseAddress!)
                }
            }
        }
        padded.withUnsafeBufferPointer { pad in
            planes.withUnsafeMutableBufferPointer {
                if windows { p.gatherWindows(pad.baseAddress!, into: $0.baseAddress!) } else { p.transpose(pad.baseAddress!, into: $0.baseAddress!) }
            }
        }
        dy.withUnsafeBufferPointer { d in
            let a = d.baseAddress! + first * sampleStride
            planes.withUnsafeBufferPointer { b in
                ordered.withUnsafeMutableBufferPointer {
                    if windows {
                        p.accumulateWindowGradient(gradient: a, sampleStride: sampleStride, channelStride: p.outH * p.outW,
                                                   windows: b.baseAddress!, images: count, into: $0.baseAddress!)
                    } else {
                        p.accumulateWeightGradient(gradient: a, sampleStride: sampleStride, channelStride: p.outH * p.outW,
                                                   transposed: b.baseAddress!, images: count, into: $0.baseAddress!)
                    }
                }
            }
        }
    }
    return ordered
}

/// (channels, height, width, outputs, kernelH, kernelW, padH, padW), channels % 16 == 0.
let tapGradientCases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (16, 5, 7, 5, 3, 3, 1, 1),      // odd sizes, 5 outputs (a 4-row and a 1-row micro-kernel)
    (16, 32, 32, 16, 3, 3, 1, 1),   // ResNet stage 1: 1088 padded columns = 4 blocks of 256 + 64
    (32, 8, 8, 20, 3, 3, 1, 1),     // 32-channel panels, 8 + 8 + 4 output rows
    (48, 6, 6, 3, 3, 3, 0, 0),      // valid 3x3: 32 + 16 channel panels
    (16, 7, 9, 4, 5, 5, 2, 2),      // same 5x5
    (16, 4, 6, 2, 2, 3, 0, 1),      // non-square kernel, unequal padding
]

@Test("tap convolution: the weight gradient (3 images, one per plane and in strips of 2, accumulated) equals the direct one", arguments: tapGradientCases.indices)
func tapConvolutionWeightGradient(_ i: Int) {
  for strip in [1, 2] {
    let p = tapPlan(tapGradientCases[i], images: strip)
    #expect(p.supportsWeightGradient)
    let taps = p.kernelH * p.kernelW
    let images = (0..<3).map { randomFloats(p.channels * p.height * p.width, seed: UInt64(700 + 10 * i + $0)) }
    let dys = (0..<3).map { randomFloats(p.outputs * p.outH * p.outW, seed: UInt64(800 + 10 * i + $0)) }
    let ordered = tapWeightGradient(p, images: images, gradients: dys)
    let base = randomFloats(p.outputs * p.channels * taps, seed: UInt64(900 + i))
    var dw = base
    ordered.withUnsafeBufferPointer { src in
        dw.withUnsafeMutableBufferPointer {
            addTapOrderGradient(src.baseAddress!, outputs: p.outputs, channels: p.channels, kernelH: p.kernelH,
                                kernelW: p.kernelW, into: $0.baseAddress!)
        }
    }
    let r = (0..<3).map { referenceWeightGradient(images[$0], dys[$0], p) }
    let expected = (0..<base.count).map { base[$0] + r[0][$0] + r[1][$0] + r[2][$0] }
    expectClose(dw, expected, tolerance: 1e-4, "dW, strips of \(strip)")
  }
}

/// (channels, height, width, outputs, kernelH, kernelW, padH, padW), any channel count.
let windowGradientCases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (1, 28, 28, 6, 5, 5, 2, 2),     // LeNet conv1: depth 25 -> 32 columns (7 dropped)
    (6, 14, 14, 16, 5, 5, 0, 0),    // LeNet conv2, valid: depth 150 -> 160 (32 x 4 + 32)
    (3, 9, 7, 5, 3, 3, 1, 1),       // RGB 3x3, odd sizes, 5 outputs: depth 27 -> 32
    (2, 4, 9, 3, 2, 5, 0, 2),       // non-square kernel, unequal padding: depth 20 -> 32
    (3, 12, 12, 10, 5, 5, 2, 2),    // 10 outputs (8-row panel + 2), depth 75 -> 80 (32 + 32 + 16)
    (16, 5, 7, 4, 3, 3, 1, 1),      // whole panels work too: depth 144
]

@Test("tap convolution: the weight gradient by window planes (3 images, one per plane and in strips of 2, accumulated) equals the direct one",
      arguments: windowGradientCases.indices)
func windowWeightGradientMatchesDirect(_ i: Int) {
  for strip in [1, 2] {
    let p = tapPlan(windowGradientCases[i], images: strip)
    #expect(p.supportsWindowGradient)
    let images = (0..<3).map { randomFloats(p.channels * p.height * p.width, seed: UInt64(1300 + 10 * i + $0)) }
    let dys = (0..<3).map { randomFloats(p.outputs * p.outH * p.outW, seed: UInt64(1400 + 10 * i + $0)) }
    let ordered = tapWeightGradient(p, images: images, gradients: dys, windows: true)
    let base = randomFloats(p.outputs * p.depth, seed: UInt64(1500 + i))
    var dw = base
    ordered.withUnsafeBufferPointer { src in
        dw.withUnsafeMutableBufferPointer {
            addWindowOrderGradient(src.baseAddress!, ld: p.windowDepth, outputs: p.outputs, channels: p.channels,
                                   kernelH: p.kernelH, kernelW: p.kernelW, into: $0.baseAddress!)
        }
    }
    let r = (0..<3).map { referenceWeightGradient(images[$0], dys[$0], p) }
    let expected = (0..<base.count).map { base[$0] + r[0][$0] + r[1][$0] + r[2][$0] }
    expectClose(dw, expected, tolerance: 1e-4, "dW, strips of \(strip)")
  }
}

/// Strided: (channels, height, width, outputs, kernel, pad, stride).
let tapStridedCases: [(Int, Int, Int, Int, Int, Int, Int)] = [
    (3, 9, 9, 4, 3, 1, 2),          // odd size, stride 2
    (16, 32, 32, 32, 3, 1, 2),      // ResNet's stage-2 transition (16-channel panels: weight gradient by taps)
    (3, 24, 23, 5, 5, 2, 2),        // 5x5/2, odd width (the scalar tail of the even/odd split)
    (2, 35, 37, 3, 11, 2, 4),       // AlexNet-style 11x11/4: 16 phase planes
    (4, 8, 8, 6, 1, 0, 2),          // 1x1/2 (a projection shortcut)
    (16, 9, 10, 4, 3, 0, 3),        // stride 3, no padding
]

@Test("tap convolution, strided (polyphase planes): forward and, with 16-channel panels, the weight gradient equal the direct ones",
      arguments: tapStridedCases.indices)
func tapConvolutionStrided(_ i: Int) {
    let c = tapStridedCases[i]
    let p = TapConvolution(channels: c.0, height: c.1, width: c.2, outputs: c.3, kernelH: c.4, kernelW: c.4,
                           padH: c.5, padW: c.5, strideH: c.6, strideW: c.6)
    #expect(p.outH == (c.1 + 2 * c.5 - c.4) / c.6 + 1 && p.outW == (c.2 + 2 * c.5 - c.4) / c.6 + 1)
    #expect(p.inputGradient == nil && !p.supportsWindowGradient)
    let w = randomFloats(p.outputs * p.channels * p.kernelH * p.kernelW, seed: UInt64(1000 + i))
    let images = (0..<2).map { randomFloats(p.channels * p.height * p.width, seed: UInt64(1100 + 10 * i + $0)) }
    let outputs = runTaps(p, images: images, ordered: tapOrdered(w, p))
    for (n, image) in images.enumerated() {
        expectClose(outputs[n], referenceConvolution(image, w, p), tolerance: 1e-5, "image \(n)")
    }
    guard p.supportsWeightGradient else { return }
    let dy = randomFloats(p.outputs * p.outH * p.outW, seed: UInt64(1200 + i))
    let dwOrdered = tapWeightGradient(p, images: [images[0]], gradients: [dy])
    var dw = [Float](repeating: 0, count: w.count)
    dwOrdered.withUnsafeBufferPointer { src in
        dw.withUnsafeMutableBufferPointer {
            addTapOrderGradient(src.baseAddress!, outputs: p.outputs, channels: p.channels, kernelH: p.kernelH,
                                kernelW: p.kernelW, into: $0.baseAddress!)
        }
    }
    expectClose(dw, referenceWeightGradient(images[0], dy, p), tolerance: 1e-4, "dW")
}
