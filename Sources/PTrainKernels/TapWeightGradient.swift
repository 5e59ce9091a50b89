// TapConvolution's weight gradient, and the weight reorderings both of its
// GEMMs share.
//
// The weight gradient, tap by tap, is a GEMM over the output pixels:
//
//   dW[o, t, c] = sum_(oy, ox) dY[o, oy, ox] * padded[c * P + offset_t + oy * Wp + ox]
//
// Transposing the padded planes once to `[position, c]` makes every tap's B
// an in-place matrix (rows offset_t + oy * Wp + ox, stride C), read one
// segment per output row; dY is A, read in place (its rows are output
// channels, plane by plane). So the 9x-wide column matrix is again never
// built: per image, one transpose of the input feeds KH*KW GEMMs. Needs C % 16 == 0 (the B
// panels are 16 or 32 channels wide); `supportsWeightGradient` says when.
// Other channel counts at stride 1 use window planes (WindowGradient.swift).

extension TapConvolution {
    /// Whether `accumulateWeightGradient` applies: whole 16-channel panels.
    public var supportsWeightGradient: Bool { channels % 16 == 0 }
    /// Floats of the transposed planes: `[planeStride, channels]`.
    public var transposedCount: Int { planeStride * channels }
    /// Output rows per k block of the weight-gradient GEMMs (about 256 k steps;
    /// a block never spans two images).
    var gradientRowsPerBlock: Int { max(1, 256 / outW) }

    /// `transposed[e, c] = padded[c * planeStride + e]` for e < planeStride.
    /// Requires `supportsWeightGradient`.
    public func transpose(_ padded: UnsafePointer<Float>, into transposed: UnsafeMutablePointer<Float>) {
        precondition(supportsWeightGradient)
        let plane = planeStride
        for c0 in stride(from: 0, to: channels, by: 16) {
            var e = 0
            while e + 16 <= plane {
                transposeBlock16(padded + c0 * plane + e, stride: plane, into: transposed + e * channels + c0, stride: channels)
                e += 16
            }
            for c in c0..<(c0 + 16) {
                for r in e..<plane { transposed[r * channels + c] = padded[c * plane + r] }
            }
        }
    }

    /// `dW[o, t * C + c] += sum over the output pixels (oy, ox) of the images
    /// in slots `0 ..< images` of dY[o, oy, ox] * transposed[(offset_t + oy *
    /// paddedW + slot * slotPitch + ox) * C + c]` (`dW` row stride `depth`:
    /// tap-ordered like `tapOrderWeights`); dY read in place (see
    /// `accumulateGradientGEMMs`). One k segment per output row, so the junk
    /// columns cost nothing, and slots left empty by a short last strip are
    /// simply not visited.
    public func accumulateWeightGradient(gradient: UnsafePointer<Float>, sampleStride: Int, channelStride: Int,
                                         transposed: UnsafePointer<Float>, images count: Int = 1,
                                         into dW: UnsafeMutablePointer<Float>) {
        precondition(supportsWeightGradient && count <= images)
        accumulateGradientGEMMs(gradient, sampleStride: sampleStride, channelStride: channelStride, images: count,
                                rowOffsets: rowOffsets, bRowStride: channels, ld: depth,
                                bands: tapOffsets.count, into: dW) { slot, t in
            (transposed + (tapOffsets[t] + slot * slotPitch) * channels, t * channels, channels)
        }
    }

    /// `dW[o, column_j + j] += sum over the output pixels (oy, ox) of the images
    /// in slots `0 ..< images` of dY[o, oy, ox] * B_j[rowOffsets[oy] + ox *
    /// bRowStride + j]` for each band j of `bands` (`band(slot, j)` gives
    /// B_j's start for that slot, its first dW column and its width, a
    /// multiple of 16); one k segment per output row, so junk columns cost
    /// nothing. dY is the GEMMs' A, read in place: the image in slot s at
    /// `gradient + s * sampleStride`, channel o at `+ o * channelStride`, k
    /// running along its pixels (packing it cost as much as the FMAs).
    @inline(__always)
    func accumulateGradientGEMMs(_ gradient: UnsafePointer<Float>, sampleStride: Int, channelStride: Int,
                                         images count: Int, rowOffsets: [Int],
                                         bRowStride: Int, ld: Int, bands: Int, into dW: UnsafeMutablePointer<Float>,
                                         band: (_ slot: Int, _ index: Int) -> (UnsafePointer<Float>, Int, Int)) {
        rowOffsets.withUnsafeBufferPointer { rowOffsets in
            for slot in 0..<count {
                let image = gradient + slot * sampleStride
                var row = 0
                while row < outH {
                    let rows = min(gradientRowsPerBlock, outH - row)
                    var ir = 0
                    while ir < outputs {
                        let a = image + ir * channelStride + row * outW
                        for j in 0..<bands {
                            let (b, column, width) = band(slot, j)
                            var jc = 0
                            while jc < width {
                                sgemmRowsTapMicroKernel(rows: min(gemmMR, outputs - ir), width: min(gemmNR, width - jc), kc: outW,
                                                        a: a, lda: channelStride, b: b + jc, bRowStride: bRowStride,
                                                        taps: rowOffsets.baseAddress! + row, tapCount: rows,
                                                        c: dW + ir * ld + column + jc, ldc: ld, beta: 1)
                                jc += gemmNR
                            }
                        }
                        ir += gemmMR
                    }
                    row += rows
                }
            }
        }
    }
}

/// Copies one image row (8 to 64 floats, typically) inline: a memmove call
/// per row cost more than the copy (measured: 7% of ResNet-20's step).
@inline(__always)
func copyRow(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self),
                                                    as: SIMD16<Float>.self)
        i += 16
    }
    if i + 8 <= count {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self),
                                                    as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        dst[i] = src[i]
        i += 1
    }
}

/// Transposes the 16x16 block at `src` (row i at `src + i * stride`) into
/// `dst` (row j at `dst + j * dstStride`). Out of line: see
/// `transpose16x16InPlace` for why.
@inline(never)
func transposeBlock16(_ src: UnsafePointer<Float>, stride: Int, into dst: UnsafeMutablePointer<Float>, stride dstStride: Int) {
    var t = Block16x16(rows: src, stride: stride)
    t.transpose()
    t.store(to: dst, stride: dstStride)
}

/// `dW [O, KH*KW*C]` in tap order -> added into `oihw [O, C, KH, KW]`.
public func addTapOrderGradient(_ ordered: UnsafePointer<Float>, outputs: Int, channels: Int, kernelH: Int, kernelW: Int,
                                into oihw: UnsafeMutablePointer<Float>) {
    let taps = kernelH * kernelW
    for o in 0..<outputs {
        for c in 0..<channels {
            let src = ordered + o * taps * channels + c
            let dst = oihw + (o * channels + c) * taps
            for t in 0..<taps { dst[t] += src[t * channels] }
        }
    }
}

/// Images per strip for batches of at most `batch`. One, unless a single
/// image's junk columns are at least 1/7 of its padded row (2 * padW >= (W +
/// 2 * padW) / 7): measured, wider planes lose more in locality than they
/// save otherwise (ResNet's 32x32 and 16x16 3x3 layers ran 4-7% slower in
/// strips, at 6% and 11% junk; the 8x8 ones 2% faster, W2's 12x12 5x5
/// conv2 10% faster, W2's 24x24 5x5 conv1, 14% junk, 7% faster forward and
/// 4% backward: 1/5 before session 18, 1/7 since). Then as
/// many as fit about 128 padded columns, evened out so that the strips of a
/// full batch are equally full (32 images of pitch 14: 4 strips of 8, not
/// 9 + 9 + 9 + 5).
public func tapStripImages(batch: Int, width: Int, padW: Int) -> Int {
    guard 2 * padW * 7 >= width + 2 * padW else { return 1 }
    let fit = max(1, 128 / (width + padW))
    let strips = (max(batch, 1) + fit - 1) / fit
    return (max(batch, 1) + strips - 1) / strips
}

/// The weights in the k order `TapConvolution` expects. Forward:
/// `oihw [O, C, KH, KW]` -> `out [O, KH*KW*C]`, `out[o, t * C + c] =
/// oihw[o, c, t]`. With `rotated`, the weights of the input-gradient
/// convolution: `out [C, KH*KW*O]`, `out[c, t * O + o] = oihw[o, c, KH*KW-1-t]`
/// (transposed, and rotated 180 degrees).
public func tapOrderWeights(_ oihw: UnsafePointer<Float>, outputs: Int, channels: Int, kernelH: Int, kernelW: Int,
                            rotated: Bool = false, into out: UnsafeMutablePointer<Float>) {
    let taps = kernelH * kernelW
    for o in 0..<outputs {
        for c in 0..<channels {
            let src = oihw + (o * channels + c) * taps
            if rotated {
                let dst = out + c * taps * outputs + o
                for t in 0..<taps { dst[t * outputs] = src[taps - 1 - t] }
            } else {
                let dst = out + o * taps * channels + c
                for t in 0..<taps { dst[t * channels] = src[t] }
            }
        }
    }
}
