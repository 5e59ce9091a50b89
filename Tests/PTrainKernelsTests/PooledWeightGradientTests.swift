import Testing
import PTrainKernels

// `pooledWeightGradient` against the definition: the pool's gradient,
// masked where the pooled value is <= 0 (the relu), scattered to each
// window's argmax, then the convolution's weight gradient of that dY summed
// over every output pixel and input patch, in Double.

/// A convolution and the max pool that reads its output (channels: the filters).
struct RoutedCase: CustomStringConvertible {
    let conv: WindowGeometry, outputs: Int, pool: WindowGeometry
    var description: String {
        "\(conv.channels)x\(conv.height)x\(conv.width) \(conv.kernelH)x\(conv.kernelW)/\(conv.strideH) pad \(conv.padH) -> \(outputs), "
            + "pool \(pool.kernelH)x\(pool.kernelW)/\(pool.strideH) pad \(pool.padH)"
    }

    init(channels: Int, size: Int, kernel: Int, stride: Int = 1, pad: Int, outputs: Int, pool: Int, poolStride: Int, poolPad: Int = 0) {
        conv = WindowGeometry(channels: channels, height: size, width: size, kernelH: kernel, kernelW: kernel,
                              strideH: stride, strideW: stride, padH: pad, padW: pad)
        self.outputs = outputs
        self.pool = WindowGeometry(channels: outputs, height: conv.outH, width: conv.outW, kernelH: pool, kernelW: pool,
                                   strideH: poolStride, strideW: poolStride, padH: poolPad, padW: poolPad)
    }
}

let routedCases = [
    // W2's conv1 and pool1, small: 5x5 pad 2, overlapping 3x3/2 pad 1 (a pixel wins several windows).
    RoutedCase(channels: 3, size: 12, kernel: 5, pad: 2, outputs: 5, pool: 3, poolStride: 2, poolPad: 1),
    // LeNet's: one channel, 2x2/2 (odd output width: a column no window reads).
    RoutedCase(channels: 1, size: 13, kernel: 5, pad: 2, outputs: 6, pool: 2, poolStride: 2),
    // A strided, unpadded, wide kernel (W4's conv1 shape, small): 11 taps per row, 33 per channel row group.
    RoutedCase(channels: 3, size: 27, kernel: 11, stride: 4, pad: 0, outputs: 4, pool: 3, poolStride: 2),
    // More than four vectors of patch (9 channels x 9 = 81 taps: 6 vectors), 3x3 stride-1 pool.
    RoutedCase(channels: 9, size: 7, kernel: 3, pad: 1, outputs: 3, pool: 3, poolStride: 1, poolPad: 1),
]

@Test("the weight gradient through a max pool's argmax equals the scattered dY's, masked by the relu", arguments: routedCases)
func pooledWeightGradientMatchesTheScatteredOne(_ c: RoutedCase) {
    let batch = 3, g = c.conv, p = c.pool, k = g.channels * g.kernelH * g.kernelW
    let inputStride = g.channels * g.height * g.width + 7, pooledCount = c.outputs * p.outH * p.outW, pooledStride = pooledCount + 5
    let x = randomFloats(batch * inputStride, seed: 3)
    // A relu'd convolution output (about half zeros, so whole windows are 0 and masked), pooled with argmax.
    let z = randomFloats(batch * c.outputs * g.outH * g.outW, seed: 5).map { max(0, $0 - 0.6) }
    let (pooled, argmax) = maxPoolWithArgmax(z, p, batch: batch)
    var y = [Float](repeating: .nan, count: batch * pooledStride), dy = y
    let upstream = randomFloats(batch * pooledCount, seed: 7)
    for n in 0..<batch {
        for i in 0..<pooledCount {
            y[n * pooledStride + i] = pooled[n * pooledCount + i]
            dy[n * pooledStride + i] = upstream[n * pooledCount + i]
        }
    }
    // Reference: scatter, mask, dense weight gradient over every pixel.
    var expectedW = [Double](repeating: 0.25, count: c.outputs * k), expectedB = [Double](repeating: -0.5, count: c.outputs)
    var masked = 0
    for n in 0..<batch {
        var dz = [Double](repeating: 0, count: c.outputs * g.outH * g.outW)
        for i in 0..<pooledCount {
            let plane = i / (p.outH * p.outW)
            guard pooled[n * pooledCount + i] > 0 else { masked += 1; continue }
            dz[plane * g.outH * g.outW + Int(argmax[n * pooledCount + i])] += Double(upstream[n * pooledCount + i])
        }
        let image = Array(x[(n * inputStride)..<(n * inputStride + g.channels * g.height * g.width)])
        let cols = referenceIm2col(image, g)
        for o in 0..<c.outputs {
            for pixel in 0..<(g.outH * g.outW) {
                let d = dz[o * g.outH * g.outW + pixel]
                expectedB[o] += d
                for r in 0..<k { expectedW[o * k + r] += d * Double(cols[r * g.columnCols + pixel]) }
            }
        }
    }
    #expect(masked > 0 && masked < batch * pooledCount, "\(c): the relu must mask some windows and not all")
    var dW = [Float](repeating: 0.25, count: c.outputs * k), dB = [Float](repeating: -0.5, count: c.outputs)
    var scratch = [Float](repeating: .nan, count: pooledWeightGradientScratchFloats(g, pool: p))
    pooledWeightGradient(x, inputStride: inputStride, g, outputs: c.outputs, pooledGradient: dy, pooled: y, argmax: argmax,
                         pool: p, pooledStride: pooledStride, batch: batch, weightGradient: &dW, biasGradient: &dB,
                         scratch: &scratch)
    #expect(assertClose(dW, expectedW.map(Float.init), tolerance: 2e-5, "\(c) dW") == nil)
    #expect(assertClose(dB, expectedB.map(Float.init), tolerance: 2e-5, "\(c) dB") == nil)
    // Not vacuous: the gradient moved away from its starting value.
    #expect(dW.filter { $0 != 0.25 }.count > dW.count / 2)
}

@Test("the pooled weight gradient takes no dilation and kernel rows of at most 16 taps")
func pooledWeightGradientSupport() {
    let plain = WindowGeometry(channels: 3, height: 24, width: 24, kernelH: 5, kernelW: 5, strideH: 1, strideW: 1, padH: 2, padW: 2)
    let dilated = WindowGeometry(channels: 3, height: 24, width: 24, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 2, padW: 2,
                                 dilationH: 2, dilationW: 2)
    let wide = WindowGeometry(channels: 1, height: 40, width: 40, kernelH: 17, kernelW: 17, strideH: 1, strideW: 1, padH: 0, padW: 0)
    #expect(pooledWeightGradientSupports(plain))
    #expect(!pooledWeightGradientSupports(dilated))
    #expect(!pooledWeightGradientSupports(wide))
}
