// A 2-D convolution as one GEMM over zero-padded planes: no im2col.
//
// Copy each input channel into a zero-bordered plane of Hp x Wp floats
// (Hp = OH + KH - 1, Wp = OW + KW - 1 at stride 1) and index the output by
// padded columns, e = oy * Wp + ox. Then the im2col row of tap t = (ki, kj)
// and channel c is the padded plane itself, shifted by ki * Wp + kj:
//
//   Y[o, e] = sum_t sum_c W[o, c, t] * padded[c * P + offset_t + e]
//
// With the k dimension ordered (tap, channel), the rows of one tap are
// uniformly strided by the plane size P, so the GEMM micro-kernel reads B in
// place, one segment of C rows per tap (sgemmTapKernel*, GEMMMicroKernel.swift),
// and nothing of size KH*KW*C x OH*OW is ever written.
//
// Junk columns (ox >= OW in each padded row): when a row is whole
// micro-tiles (OW % 16 == 0) the tiles follow the rows and skip them;
// otherwise they are computed (25% of the work for 8x8 3x3) and the
// copy-out drops them. Narrow planes therefore hold a strip of `images`
// images side by side, sharing their zero gaps: [pad | image 0 | pad |
// image 1 | ... | pad]. A window of image i never reaches past the gap into
// image i + 1, so each image's outputs are exactly its own, and the junk
// shrinks to pad columns per image (12x12 5x5 in strips of 8: 2 of 14).
//
// Strided convolutions (stride s) use the same GEMM on polyphase planes:
// the padded image is split into s x s phase planes, phase (p, q) holding
// padded pixels (s i + p, s j + q). Tap (ki, kj) of output (oy, ox) is
// pixel (oy + ki / s, ox + kj / s) of phase (ki % s, kj % s): again one
// shifted plane per tap. (No strips and no tap input gradient then.)
//
// The input gradient of a stride-1 convolution is the same operation on the
// output gradient, padded by K - 1 - pad, with the weights transposed to
// [C, O] and rotated 180 degrees (`tapOrderWeights(rotated: true)`).
//
// The weight gradient is in TapWeightGradient.swift.
//
// Units are floats. The caller owns the buffers: the padded planes
// (`paddedCount`, zeroed before a pass: only interiors are ever written), the
// packed weights (`packedWeightCount`), the output staging (`outputs x
// columns`) and, for the weight gradient, the transposed (or window) planes.

/// Geometry and k blocking of one convolution (one group).
public struct TapConvolution: Sendable, Hashable {
    /// Input channels C (of one group) and output channels O (the GEMM's m).
    public let channels: Int, outputs: Int
    public let kernelH: Int, kernelW: Int
    public let outH: Int, outW: Int
    public let strideH: Int, strideW: Int
    /// One (phase) plane: `paddedH x paddedW`. Stride 1: pixel (iy, ix) of
    /// the image in slot s at `(iy + padH) * paddedW + s * slotPitch + ix + padW`.
    public let paddedH: Int, paddedW: Int
    /// Images per padded plane, side by side, and the columns between the
    /// starts of neighbours (`width + padW`).
    public let images: Int, slotPitch: Int
    public let padH: Int, padW: Int
    /// Input plane size (unpadded): H x W.
    public let height: Int, width: Int
    /// Floats per phase plane (`paddedH * paddedW`).
    public var phaseStride: Int { paddedH * paddedW }
    /// Floats per channel: its `strideH * strideW` phase planes.
    public var planeStride: Int { strideH * strideW * phaseStride }
    /// Output columns computed: `outH * paddedW` rounded up to 16 (the
    /// narrow micro-kernel's width). Column e is output pixel (e / Wp, e % Wp)
    /// when e % Wp < outW; the rest is junk.
    public let columns: Int
    /// Floats of the padded buffer: the planes plus the slack that the junk
    /// columns of the last channel read past its plane.
    public var paddedCount: Int { channels * planeStride + paddedW + kernelW + 16 }
    /// Floats of packed weights: `roundUp(outputs, 8) * channels * KH * KW`.
    public var packedWeightCount: Int { (outputs + gemmMR - 1) / gemmMR * gemmMR * depth }
    /// k = KH * KW * C.
    public var depth: Int { kernelH * kernelW * channels }

    /// One k block: `segments` runs of `length` k steps, run s reading B at
    /// `offsets[firstOffset + s]`; A's steps `k0 ..< k0 + segments * length`.
    struct Block: Sendable, Hashable {
        let k0: Int, segments: Int, length: Int, firstOffset: Int
    }
    let blocks: [Block]
    let offsets: [Int]
    /// Offset of each tap's shifted plane (phase plane and shift), `[KH*KW]`.
    let tapOffsets: [Int]
    /// `oy * paddedW * channels`: where output row oy's positions start in
    /// the transposed planes (the direct weight gradient's segments).
    let rowOffsets: [Int]
    /// `oy * paddedW * kernelH * channels`: the same in the window planes
    /// (stride 1 only; empty otherwise).
    let windowRowOffsets: [Int]

    /// k steps per block at most: an 8-row A panel of 512 steps is 16 KiB (L1).
    static let maxBlockDepth = 512

    /// A convolution of a `channels x height x width` input with `outputs`
    /// filters of `kernelH x kernelW`, zero padding `padH`, `padW` and stride
    /// `strideH`, `strideW`, on strips of `images` images (stride 1 only).
    /// Callers validate: output size >= 1, all sizes >= 1, padding >= 0.
    public init(channels: Int, height: Int, width: Int, outputs: Int,
                kernelH: Int, kernelW: Int, padH: Int, padW: Int,
                strideH: Int = 1, strideW: Int = 1, images: Int = 1) {
        precondition(images == 1 || (strideH == 1 && strideW == 1), "strips need stride 1")
        self.channels = channels; self.outputs = outputs
        self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW
        self.padH = padH; self.padW = padW
        self.strideH = strideH; self.strideW = strideW
        outH = (height + 2 * padH - kernelH) / strideH + 1
        outW = (width + 2 * padW - kernelW) / strideW + 1
        self.images = images
        slotPitch = width + padW
        let fullW = images * (width + padW) + padW
        let pitch = (fullW + strideW - 1) / strideW, rows = (height + 2 * padH + strideH - 1) / strideH
        paddedH = rows
        paddedW = pitch
        columns = (outH * pitch + 15) / 16 * 16
        let taps = kernelH * kernelW
        let plane = strideH * strideW * rows * pitch
        func tapOffset(_ t: Int) -> Int {
            let ki = t / kernelW, kj = t % kernelW
            return ((ki % strideH) * strideW + kj % strideW) * rows * pitch + (ki / strideH) * pitch + kj / strideW
        }
        tapOffsets = (0..<taps).map(tapOffset)
        rowOffsets = (0..<outH).map { $0 * pitch * channels }
        windowRowOffsets = strideH == 1 && strideW == 1 ? (0..<outH).map { $0 * pitch * kernelH * channels } : []
        var planBlocks: [Block] = [], planOffsets: [Int] = []
        if channels <= Self.maxBlockDepth {
            // Whole taps per block, as evenly as the taps divide.
            let perBlock = max(1, Self.maxBlockDepth / channels)
            let count = (taps + perBlock - 1) / perBlock
            var t = 0
            for b in 0..<count {
                let n = (taps - t) / (count - b) + ((taps - t) % (count - b) == 0 ? 0 : 1)
                planBlocks.append(Block(k0: t * channels, segments: n, length: channels, firstOffset: planOffsets.count))
                for s in t..<(t + n) { planOffsets.append(tapOffset(s)) }
                t += n
            }
        } else {
            // One tap per block, its channels split evenly.
            let count = (channels + Self.maxBlockDepth - 1) / Self.maxBlockDepth
            for t in 0..<taps {
                var c = 0
                for b in 0..<count {
                    let n = (channels - c + (count - b) - 1) / (count - b)
                    planBlocks.append(Block(k0: t * channels + c, segments: 1, length: n, firstOffset: planOffsets.count))
                    planOffsets.append(tapOffset(t) + c * plane)
                    c += n
                }
            }
        }
        self.blocks = planBlocks
        self.offsets = planOffsets
    }

    /// The same convolution on strips of `images` images (stride 1 only).
    public func inStrips(of images: Int) -> TapConvolution {
        TapConvolution(channels: channels, height: height, width: width, outputs: outputs, kernelH: kernelH, kernelW: kernelW,
                       padH: padH, padW: padW, strideH: strideH, strideW: strideW, images: images)
    }

    /// The convolution that computes this one's input gradient: of the
    /// `outputs x outH x outW` output gradient, padded by K - 1 - pad, giving
    /// `channels` planes of height x width. Nil when pad > K - 1 (then the
    /// gradient needs a col2im scatter instead).
    public var inputGradient: TapConvolution? {
        guard strideH == 1, strideW == 1, padH <= kernelH - 1, padW <= kernelW - 1 else { return nil }
        return TapConvolution(channels: outputs, height: outH, width: outW, outputs: channels,
                              kernelH: kernelH, kernelW: kernelW, padH: kernelH - 1 - padH, padW: kernelW - 1 - padW,
                              images: images)
    }

    /// Copies `image [channels, height, width]` (channel c at `image + c *
    /// imageChannelStride`) into slot `slot` of the padded planes. The
    /// borders, gaps and slack of `padded` must be zero (never written).
    public func pad(_ image: UnsafePointer<Float>, slot: Int = 0, channelStride imageChannelStride: Int,
                    into padded: UnsafeMutablePointer<Float>) {
        if strideH != 1 || strideW != 1 {
            padPhases(image, channelStride: imageChannelStride, into: padded)
            return
        }
        for c in 0..<channels {
            let dst = padded + c * planeStride + padH * paddedW + slot * slotPitch + padW
            for iy in 0..<height {
                copyRow(image + c * imageChannelStride + iy * width, to: dst + iy * paddedW, count: width)
            }
        }
    }

    /// `pad` for strides > 1: pixel (iy, ix) goes to padded (py, px) = (iy +
    /// padH, ix + padW), i.e. phase (py % sH, px % sW) at (py / sH, px / sW).
    /// Stride 2 across splits 16 pixels into even and odd lanes at once.
    private func padPhases(_ image: UnsafePointer<Float>, channelStride imageChannelStride: Int,
                           into padded: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for iy in 0..<height {
                let py = iy + padH
                let row = padded + c * planeStride + (py % strideH) * strideW * phaseStride + (py / strideH) * paddedW
                let src = image + c * imageChannelStride + iy * width
                var ix = 0
                if strideW == 2 {
                    while ix + 16 <= width {
                        let v = UnsafeRawPointer(src + ix).loadUnaligned(as: SIMD16<Float>.self)
                        let px = ix + padW
                        UnsafeMutableRawPointer(row + (px % 2) * phaseStride + px / 2).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(row + ((px + 1) % 2) * phaseStride + (px + 1) / 2).storeBytes(of: v.oddHalf, as: SIMD8<Float>.self)
                        ix += 16
                    }
                }
                while ix < width {
                    let px = ix + padW
                    row[(px % strideW) * phaseStride + px / strideW] = src[ix]
                    ix += 1
                }
            }
        }
    }

    /// Packs `weights [outputs, KH*KW*channels]` (k ordered tap-major, see
    /// `tapOrderWeights`) into micro-panels, block by block.
    public func packWeights(_ weights: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>) {
        let rowsPadded = (outputs + gemmMR - 1) / gemmMR * gemmMR
        for block in blocks {
            packA(transA: false, a: weights, lda: depth, i0: 0, p0: block.k0, mc: outputs,
                  kc: block.segments * block.length, alpha: 1, into: packed + rowsPadded * block.k0)
        }
    }

    /// Whether `multiply` tiles each output row separately, skipping the junk
    /// columns: when a row is whole 32-wide micro-tiles (outW % 32 == 0; one
    /// image), so ResNet's 32-wide layers compute no junk at all. A 16-wide
    /// row would be one 16-wide tile, whose kernel loads B once and A eight
    /// times per 8 FMAs: the 32-wide tiles over the padded rows run faster
    /// with their junk (ResNet's 3x3/2 16 -> 32 layer 11%, a 3x3/1 on 16x16
    /// 8%; docs/kernels.md). Each column's sum is the same either way.
    var skipsJunk: Bool { images == 1 && outW % 32 == 0 && outW < paddedW }

    /// `out[o, e] = sum_k W[o, k] * B[k, e] + beta * out[o, e]` for o <
    /// outputs and the columns e that hold output pixels (all e < columns
    /// unless `skipsJunk`: then the junk columns are left as they were),
    /// row stride `ldOut >= columns`, B being the virtual im2col matrix of
    /// `padded`. Allocates nothing.
    ///
    /// Taps whose kernel row reads only zero padding rows for every output
    /// row a tile covers are skipped (`kernelRows`): their products are
    /// zeros, so the valid columns are the same. A "same" 5x5 layer on
    /// 12x12 skips 10% of its work, the input gradient of a valid one 29%.
    public func multiply(packedWeights: UnsafePointer<Float>, padded: UnsafePointer<Float>,
                         beta: Float, into out: UnsafeMutablePointer<Float>, ldOut: Int) {
        precondition(ldOut >= columns)
        let rowsPadded = (outputs + gemmMR - 1) / gemmMR * gemmMR
        offsets.withUnsafeBufferPointer { offsets in
            @inline(__always) func tile(_ jr: Int, width: Int) {
                let rows = kernelRows(columns: jr, width)
                let t0 = rows.lowerBound * kernelW, t1 = rows.upperBound * kernelW
                var first = true
                for block in blocks {
                    // This block's taps, [tb, tb + segments) (one tap, part
                    // of its channels, when channels are split), within [t0, t1).
                    let tb = block.k0 / channels
                    let lo = max(tb, t0), hi = min(tb + block.segments, t1)
                    guard lo < hi else { continue }
                    let depth = block.segments * block.length, skip = (lo - tb) * block.length
                    let a = packedWeights + rowsPadded * block.k0 + skip * gemmMR
                    let taps = offsets.baseAddress! + block.firstOffset + (lo - tb)
                    var ir = 0
                    while ir < outputs {
                        sgemmTapMicroKernel(rows: min(gemmMR, outputs - ir), width: width, kc: block.length,
                                            a: a + (ir / gemmMR) * depth * gemmMR, b: padded + jr,
                                            bRowStride: planeStride, taps: taps, tapCount: hi - lo,
                                            c: out + ir * ldOut + jr, ldc: ldOut, beta: first ? beta : 1)
                        ir += gemmMR
                    }
                    first = false
                }
                if first && beta != 1 {
                    // Every tap reads padding only (a 1x1 kernel on a padding row).
                    for o in 0..<outputs {
                        for e in jr..<(jr + width) { out[o * ldOut + e] = beta == 0 ? 0 : beta * out[o * ldOut + e] }
                    }
                }
            }
            if skipsJunk {
                // Tiles inside each output row: the junk columns are
                // neither computed nor written.
                for oy in 0..<outH {
                    var jr = 0
                    while jr < outW {
                        tile(oy * paddedW + jr, width: gemmNR)   // outW % 32 == 0
                        jr += gemmNR
                    }
                }
            } else {
                var jr = 0
                while jr < columns {
                    tile(jr, width: min(gemmNR, columns - jr))   // 32 or 16: columns % 16 == 0
                    jr += gemmNR
                }
            }
        }
    }

    /// The kernel rows ki whose padded input row (oy + ki at stride 1) is an
    /// image row, not padding, for some output row oy of the columns
    /// `[first, first + width)`. Strided plans: all rows.
    func kernelRows(columns first: Int, _ width: Int) -> Range<Int> {
        guard strideH == 1 else { return 0..<kernelH }
        let top = first / paddedW, bottom = min(outH - 1, (first + width - 1) / paddedW)
        let lo = max(0, padH - bottom), hi = min(kernelH, padH + height - top)
        return lo < hi ? lo..<hi : 0..<0
    }

    /// Copies (or with `accumulate`, adds) slot `slot`'s valid columns of `out
    /// [outputs, ldOut]` into `y [outputs, outH, outW]` (channel o at `y + o *
    /// channelStride`).
    public func extract(_ out: UnsafePointer<Float>, ldOut: Int, slot: Int = 0, into y: UnsafeMutablePointer<Float>,
                        channelStride: Int, accumulate: Bool) {
        for o in 0..<outputs {
            let src = out + o * ldOut + slot * slotPitch, dst = y + o * channelStride
            for oy in 0..<outH {
                if accumulate {
                    PTrainKernels.accumulate(src + oy * paddedW, into: dst + oy * outW, count: outW)
                } else {
                    copyRow(src + oy * paddedW, to: dst + oy * outW, count: outW)
                }
            }
        }
    }

    /// `extract` (not accumulating) with `addChannelBias`'s `+ bias[o]` and,
    /// with `rectify`, its ReLU applied on the way: one pass over the
    /// outputs instead of two; every value, row by row, gets the vector
    /// semantics (`v < 0 -> 0`, keeping NaN and -0), the bits of that pass
    /// when `ChannelEpilogue.appliesInCopy` holds (whole 16-pixel planes, a
    /// precondition).
    public func extract(_ out: UnsafePointer<Float>, ldOut: Int, slot: Int = 0, into y: UnsafeMutablePointer<Float>,
                        channelStride: Int, bias: UnsafePointer<Float>, rectify: Bool) {
        precondition(outH * outW % 16 == 0)
        for o in 0..<outputs {
            let src = out + o * ldOut + slot * slotPitch, dst = y + o * channelStride
            let b = SIMD16<Float>(repeating: bias[o])
            @inline(__always) func apply(_ v: SIMD16<Float>) -> SIMD16<Float> { rectify ? rectified(v + b) : v + b }
            for oy in 0..<outH {
                let from = src + oy * paddedW, to = dst + oy * outW
                var i = 0
                while i + 16 <= outW {
                    UnsafeMutableRawPointer(to + i).storeBytes(of: apply(UnsafeRawPointer(from + i).loadUnaligned(as: SIMD16<Float>.self)),
                                                               as: SIMD16<Float>.self)
                    i += 16
                }
                if i + 8 <= outW {
                    var v = UnsafeRawPointer(from + i).loadUnaligned(as: SIMD8<Float>.self) + b.lowHalf
                    if rectify { v.replace(with: 0, where: v .< 0) }
                    UnsafeMutableRawPointer(to + i).storeBytes(of: v, as: SIMD8<Float>.self)
                    i += 8
                }
                if i + 4 <= outW {
                    var v = UnsafeRawPointer(from + i).loadUnaligned(as: SIMD4<Float>.self) + b.lowHalf.lowHalf
                    if rectify { v.replace(with: 0, where: v .< 0) }
                    UnsafeMutableRawPointer(to + i).storeBytes(of: v, as: SIMD4<Float>.self)
                    i += 4
                }
                while i < outW {
                    let v = from[i] + bias[o]
                    to[i] = rectify && v < 0 ? 0 : v
                    i += 1
                }
            }
        }
    }
}
