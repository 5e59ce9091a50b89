// The input gradient of a strided convolution as stride-1 tap GEMMs, one per
// phase of the input, instead of an im2col GEMM with k = O and a col2im
// scatter.
//
// At stride (sH, sW) the padded input pixel (r, c) = (sH a + qy, sW b + qx)
// receives gradient only from the taps with ky = qy (mod sH) and kx = qx
// (mod sW): with ky = qy + sH j, kx = qx + sW l,
//
//   dP[ci, sH a + qy, sW b + qx] = sum_{co, j, l} W[co, ci, qy + sH j, qx + sW l] dY[co, a - j, b - l],
//
// a stride-1 convolution of the output gradient with the phase's
// sub-kernel (Jh x Jw = ceil((KH - qy) / sH) x ceil((KW - qx) / sW) taps).
// Each phase is a `TapConvolution` of dY (rotated, transposed sub-kernel, as
// the stride-1 input gradient) over one padded layout shared by all phases
// (padding P = max J - 1 on each side), so dY is padded once per strip; phase
// output (a'', b'') is a = a'' - (P - Jh + 1), and is added to the input
// pixel (sH a + qy - padH, sW b + qx - padW) where that lies in the image.
// ResNet's 3x3/2 layers: four phases of 2x2, 2x1, 1x2 and 1x1 taps, nine in
// all, the same multiply-adds as the forward pass.

/// The phase plans of one group's strided input gradient.
struct TapStridedGradient: Sendable, Hashable {
    /// One phase (qy, qx) of the padded input.
    struct Phase: Sendable, Hashable {
        let qy: Int, qx: Int
        /// Sub-kernel taps: rows ky = qy + sH j (j < kernelH), columns kx = qx + sW l.
        let kernelH: Int, kernelW: Int
        /// dY (O channels) convolved into C outputs with the rotated sub-kernel.
        let plan: TapConvolution
        /// First output row/column of the plan kept, and how many; and the
        /// input row/column the first kept one lands on.
        let rows: Range<Int>, columns: Range<Int>, firstRow: Int, firstColumn: Int
    }
    let phases: [Phase]
    let strideH: Int, strideW: Int
    /// The forward convolution's geometry (one group).
    let channels: Int, outputs: Int, height: Int, width: Int, kernelH: Int, kernelW: Int

    /// Nil for stride 1 (`TapConvolution.inputGradient` covers it).
    init?(_ shape: ConvolutionShape, maxBatch: Int) {
        let g = shape.geometry
        guard g.strideH > 1 || g.strideW > 1, !g.isDilated else { return nil }
        let sH = g.strideH, sW = g.strideW
        strideH = sH; strideW = sW
        channels = g.channels; outputs = shape.outputs; height = g.height; width = g.width
        kernelH = g.kernelH; kernelW = g.kernelW
        let oh = g.outH, ow = g.outW
        let padH = (g.kernelH + sH - 1) / sH - 1, padW = (g.kernelW + sW - 1) / sW - 1
        let images = tapStripImages(batch: maxBatch, width: ow, padW: padW)
        var phases: [Phase] = []
        for qy in 0..<min(sH, g.kernelH) {
            for qx in 0..<min(sW, g.kernelW) {
                let jh = (g.kernelH - qy + sH - 1) / sH, jw = (g.kernelW - qx + sW - 1) / sW
                let plan = TapConvolution(channels: shape.outputs, height: oh, width: ow, outputs: g.channels,
                                          kernelH: jh, kernelW: jw, padH: padH, padW: padW, images: images)
                // Plan row a'' is phase row a = a'' - (padH - jh + 1), input row
                // sH a + qy - g.padH; keep those inside [0, H).
                func kept(count: Int, shift: Int, stride: Int, phase: Int, pad: Int, size: Int) -> (Range<Int>, Int) {
                    let offset = phase - pad - stride * shift   // input index of plan index 0
                    let lo = max(0, ceilDivide(-offset, stride)), hi = min(count, floorDivide(size - 1 - offset, stride) + 1)
                    return (lo < hi ? lo..<hi : 0..<0, offset + stride * lo)
                }
                let (rows, firstRow) = kept(count: plan.outH, shift: padH - jh + 1, stride: sH, phase: qy, pad: g.padH, size: g.height)
                let (columns, firstColumn) = kept(count: plan.outW, shift: padW - jw + 1, stride: sW, phase: qx, pad: g.padW, size: g.width)
                phases.append(Phase(qy: qy, qx: qx, kernelH: jh, kernelW: jw, plan: plan, rows: rows, columns: columns,
                                    firstRow: firstRow, firstColumn: firstColumn))
            }
        }
        self.phases = phases
        // Stored, not computed: the training step reads them (no arrays built then).
        paddedCount = phases.map(\.plan.paddedCount).max()!
        packedWeightCount = phases.reduce(0) { $0 + alignedFloats($1.plan.packedWeightCount) }
        stagingCount = phases.map { $0.plan.outputs * $0.plan.columns }.max()!
        scratchCount = 2 * shape.outputs * g.channels * phases.map { $0.kernelH * $0.kernelW }.max()!
    }

    /// Floats of the padded output gradient (the phases share its layout).
    let paddedCount: Int
    /// Floats of every phase's packed weights, one after another.
    let packedWeightCount: Int
    /// Floats of one phase's staged output (the largest).
    let stagingCount: Int
    /// Floats of one sub-kernel and its tap order (`scratch` of `packWeights`).
    let scratchCount: Int
    /// Images per strip.
    var images: Int { phases[0].plan.images }

    /// Packs every phase's rotated, transposed sub-kernel of `weights [O, C, KH, KW]`.
    func packWeights(_ weights: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>, into packed: UnsafeMutablePointer<Float>) {
        var at = 0
        for phase in phases {
            let sub = scratch, ordered = scratch + outputs * channels * phase.kernelH * phase.kernelW
            var i = 0
            for o in 0..<outputs {
                for c in 0..<channels {
                    let src = weights + (o * channels + c) * kernelH * kernelW
                    for j in 0..<phase.kernelH {
                        for l in 0..<phase.kernelW {
                            sub[i] = src[(phase.qy + strideH * j) * kernelW + phase.qx + strideW * l]
                            i += 1
                        }
                    }
                }
            }
            tapOrderWeights(sub, outputs: outputs, channels: channels, kernelH: phase.kernelH, kernelW: phase.kernelW,
                            rotated: true, into: ordered)
            phase.plan.packWeights(ordered, into: packed + at)
            at += alignedFloats(phase.plan.packedWeightCount)
        }
    }

    /// `dx_n += dL/dx_n` for `batch` images of one group: `dy` samples
    /// `outputStride` floats apart (channel planes `outChannelStride`), `dx`
    /// samples `inputStride` apart (planes `inChannelStride`). `padded`
    /// (`paddedCount` floats) must be zero outside the interiors; `packed`
    /// from `packWeights`; `stage` holds `stagingCount` floats.
    func accumulate(_ dy: UnsafePointer<Float>, outputStride: Int, outChannelStride: Int, packed: UnsafePointer<Float>,
                    padded: UnsafeMutablePointer<Float>, stage: UnsafeMutablePointer<Float>,
                    into dx: UnsafeMutablePointer<Float>, inputStride: Int, inChannelStride: Int, batch: Int) {
        let layout = phases[0].plan
        var first = 0
        while first < batch {
            let count = min(images, batch - first)
            for slot in 0..<count {
                layout.pad(dy + (first + slot) * outputStride, slot: slot, channelStride: outChannelStride, into: padded)
            }
            var at = 0
            for phase in phases {
                let plan = phase.plan
                plan.multiply(packedWeights: packed + at, padded: padded, beta: 0, into: stage, ldOut: plan.columns)
                at += alignedFloats(plan.packedWeightCount)
                for slot in 0..<count {
                    scatter(phase, stage + slot * plan.slotPitch, ldOut: plan.columns,
                            into: dx + (first + slot) * inputStride, channelStride: inChannelStride)
                }
            }
            first += count
        }
    }

    /// Adds one image's kept phase outputs (`stage`, `[C, ldOut]`, rows
    /// `plan.paddedW` apart) to their input pixels, `strideW` apart.
    private func scatter(_ phase: Phase, _ stage: UnsafePointer<Float>, ldOut: Int,
                         into dx: UnsafeMutablePointer<Float>, channelStride: Int) {
        let pitch = phase.plan.paddedW, n = phase.columns.count
        for c in 0..<channels {
            var iy = phase.firstRow
            for a in phase.rows {
                let src = stage + c * ldOut + a * pitch + phase.columns.lowerBound
                let dst = dx + c * channelStride + iy * width + phase.firstColumn
                if strideW == 2 {
                    var b = 0
                    // 8 values onto the even lanes of 16; the odd lanes (another
                    // phase's pixels) are stored back unchanged.
                    while b + 8 <= n && phase.firstColumn + 2 * b + 16 <= width {
                        let v = UnsafeRawPointer(src + b).loadUnaligned(as: SIMD8<Float>.self)
                        var d = UnsafeRawPointer(dst + 2 * b).loadUnaligned(as: SIMD16<Float>.self)
                        d.evenHalf += v
                        UnsafeMutableRawPointer(dst + 2 * b).storeBytes(of: d, as: SIMD16<Float>.self)
                        b += 8
                    }
                    while b < n { dst[2 * b] += src[b]; b += 1 }
                } else {
                    for b in 0..<n { dst[strideW * b] += src[b] }
                }
                iy += strideH
            }
        }
    }
}

/// `ceil(a / b)` for b > 0 and any sign of a.
@inline(__always)
func ceilDivide(_ a: Int, _ b: Int) -> Int { -floorDivide(-a, b) }

/// `floor(a / b)` for b > 0 and any sign of a.
@inline(__always)
func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
