// The weight gradient by windows, for channel counts that are not whole
// 16-channel panels (LeNet's 1 and 6, RGB's 3), stride 1:
//
// Window planes hold, for each padded position p, its vertical window, the
// KH * C values windows[p * KH*C + ki * C + c] = padded[c * P + ki * Wp + p].
// Consecutive positions then make the whole k row of the im2col matrix
// contiguous: window-ordered index j = kj * KH*C + ki * C + c of output
// position e is windows[(e + kj) * KH*C + ki * C + c] = windows[e * KH*C + j].
// So one GEMM per output row segment, dW[o, j] += sum_e dY[o, e] *
// windows[e * KH*C + j], reads B in place with row stride KH*C and n = the
// whole depth KH*KW*C (rounded up to 16: the columns past depth read
// neighbouring positions and are dropped). KH times the input's floats,
// instead of im2col's KH*KW, and no packing of B.
extension TapConvolution {
    /// Whether `accumulateWindowGradient` applies: stride 1.
    public var supportsWindowGradient: Bool { strideH == 1 && strideW == 1 }
    /// Floats per position of the window planes (KH * C).
    var windowStride: Int { kernelH * channels }
    /// Columns of the window-ordered weight gradient: depth rounded up to 16.
    public var windowDepth: Int { (depth + 15) / 16 * 16 }
    /// Floats of the window planes: `outH * paddedW` positions (every
    /// window a valid output reads starts before them) plus slack for the
    /// last tile's dropped columns (zero at first; `gatherWindows` may spill values into it).
    public var windowCount: Int { outH * paddedW * windowStride + 32 }

    /// `windows[p * KH*C + ki * C + c] = padded[c * planeStride + ki * paddedW
    /// + p]` for p < outH * paddedW. Requires `supportsWindowGradient`.
    /// Windows of up to 32 values (LeNet's 5 and 30), sixteen positions at a
    /// time: one or two 16 x 16 register transposes turn 16 positions of
    /// each window row into 16 windows, stored as whole vectors in position
    /// order; each vector's lanes past the window spill into the next
    /// position's, which is stored after it (the last spill lands in the
    /// next block, or in the buffer's slack). Longer windows, and the last
    /// positions, one value at a time.
    public func gatherWindows(_ padded: UnsafePointer<Float>, into windows: UnsafeMutablePointer<Float>) {
        precondition(supportsWindowGradient)
        let positions = outH * paddedW, step = windowStride, whole = step <= 32 ? positions / 16 * 16 : 0
        /// Where window value r of position 0 is read.
        @inline(__always) func source(_ r: Int) -> UnsafePointer<Float> {
            padded + (r % channels) * planeStride + (r / channels) * paddedW
        }
        @inline(__always) func put(_ v: SIMD16<Float>, _ at: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(at).storeBytes(of: v, as: SIMD16<Float>.self)
        }
        var p = 0
        while p < whole {
            var low = Block16x16 { i in i < step ? loadVector16(source(i) + p) : SIMD16() }
            low.transpose()
            if step > 16 {
                var high = Block16x16 { i in 16 + i < step ? loadVector16(source(16 + i) + p) : SIMD16() }
                high.transpose()
                low.forEachRow { k, v in
                    put(v, windows + (p + k) * step)
                    put(high.row(k), windows + (p + k) * step + 16)
                }
            } else {
                low.forEachRow { k, v in put(v, windows + (p + k) * step) }
            }
            p += 16
        }
        for r in 0..<step {
            let src = source(r), dst = windows + r
            for q in whole..<positions { dst[q * step] = src[q] }
        }
    }

    /// `dW[o, j] += sum over the output pixels e = (oy, ox) of the images in
    /// slots `0 ..< images` of dY[o, oy, ox] * windows[(oy * paddedW + slot *
    /// slotPitch + ox) * KH*C + j]` for j < windowDepth (`dW` row stride
    /// `windowDepth`, window order: see `addWindowOrderGradient`); dY read
    /// in place as in `accumulateWeightGradient`.
    public func accumulateWindowGradient(gradient: UnsafePointer<Float>, sampleStride: Int, channelStride: Int,
                                         windows: UnsafePointer<Float>, images count: Int = 1,
                                         into dW: UnsafeMutablePointer<Float>) {
        precondition(supportsWindowGradient && count <= images)
        accumulateGradientGEMMs(gradient, sampleStride: sampleStride, channelStride: channelStride, images: count,
                                rowOffsets: windowRowOffsets, bRowStride: windowStride,
                                ld: windowDepth, bands: 1, into: dW) { slot, _ in
            (windows + slot * slotPitch * windowStride, 0, windowDepth)
        }
    }
}

@inline(__always)
private func loadVector16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// `dW [O, ld]` in window order (column kj * KH*C + ki * C + c) -> added
/// into `oihw [O, C, KH, KW]`.
public func addWindowOrderGradient(_ ordered: UnsafePointer<Float>, ld: Int, outputs: Int, channels: Int,
                                   kernelH: Int, kernelW: Int, into oihw: UnsafeMutablePointer<Float>) {
    for o in 0..<outputs {
        for c in 0..<channels {
            let dst = oihw + (o * channels + c) * kernelH * kernelW
            for ki in 0..<kernelH {
                for kj in 0..<kernelW {
                    dst[ki * kernelW + kj] += ordered[o * ld + (kj * kernelH + ki) * channels + c]
                }
            }
        }
    }
}
