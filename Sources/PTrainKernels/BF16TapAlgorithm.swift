import CBF16

/// The bf16 twin of `TapAlgorithm`: tap GEMMs over zero-padded planes
/// (TapConvolution.swift's plans; no im2col) with bf16 operands, for the
/// forward pass of any undilated shape (polyphase planes when strided,
/// strips of images when narrow), its weight gradient from 16 input
/// channels up, and the input gradient of stride-1 shapes with pad <= K - 1.
///
/// vdpbf16ps multiplies PAIRS of k steps (CBF16.h); here a pair is two
/// consecutive input channels of one tap. The padded fp32 planes are
/// converted into channel-pair planes of words (pair plane q holds channels
/// 2q and 2q + 1 at each position; an odd last channel pairs with zero), so
/// tap t's B rows are the pair planes shifted by the tap's offset, exactly as
/// in fp32, and the C micro-kernel runs one segment per tap. The weights
/// become rows of `[tap][channel pair]` words.
///
/// The weight gradient pairs k = output positions instead: per tap t,
/// `dW_t[o, c] = sum_e dY[o, e] * planes[c, offset_t + e]`, with dY spread
/// into the padded-width columns (junk columns zero) and paired along e,
/// and the planes transposed into position-pair-major words twice, from
/// even positions (`(2r, 2r + 1)`) and from odd ones (`(2r + 1, 2r + 2)`), so
/// that every tap offset, even or odd, starts at a whole pair of one of them.
///
/// Workspace, in order (floats; the word regions hold UInt32 words): one
/// strip's fp32 padded planes (zeroed each pass) with 64 floats of extra
/// slack, the pair planes and their slack, every group's tap-ordered
/// weights, their words, the staging of one strip's padded-width output
/// `[O/g, columns]` (also dY spread out), dY's pairs and the two transposed
/// pair planes (weight gradient), and every group's tap-ordered weight
/// gradient.
public struct BF16TapAlgorithm: PoolStoring {
    public static let name = "bf16 taps"
    let shape: ConvolutionShape
    let plan: TapConvolution
    /// The input gradient's plan (nil: that pass is not supported).
    let gradientPlan: TapConvolution?
    /// Words per group of paired weights (the larger of both plans').
    let weightWords: Int
    /// Offsets of the workspace regions above, in floats.
    let padded: Int, pairPlanes: Int, ordered: Int, pairedWeights: Int, staging: Int
    let gradientPairs: Int, evenPairs: Int, oddPairs: Int, orderedGradient: Int
    /// The weight gradient's transposed planes: position pairs per plane and
    /// words per pair (the channels rounded up to 16).
    let positionPairs: Int, channelWords: Int
    public let workspaceFloats: Int

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool {
        let g = shape.geometry
        guard !g.isDilated else { return false }
        switch pass {
        case .forward: return true
        case .inputGradient: return g.strideH == 1 && g.strideW == 1 && g.padH <= g.kernelH - 1 && g.padW <= g.kernelW - 1
        // Per tap the weight gradient is a GEMM with n = channels: below 16 the
        // 16-wide micro-tile is mostly padding (measured: W2's 3-channel conv1
        // 3.5x slower than im2col, whose n is C*KH*KW).
        case .weightGradient: return g.channels >= 16
        }
    }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        self.shape = shape
        plan = tapPlan(shape, maxBatch: maxBatch)
        gradientPlan = plan.inputGradient
        let plans = [plan] + (gradientPlan.map { [$0] } ?? [])
        weightWords = plans.map(Self.weightWords).max()!
        var end = 0
        func region(_ count: Int) -> Int { defer { end += alignedFloats(count) }; return end }
        padded = region(plans.map(\.paddedCount).max()! + Self.extraSlack)
        pairPlanes = region(plans.map(Self.pairPlaneWords).max()!)
        ordered = region(shape.groups * shape.groupWeights)
        pairedWeights = region(shape.groups * weightWords)
        staging = region(plans.map { $0.outputs * $0.columns }.max()!)
        // Positions the weight gradient reads: every column at every tap offset.
        positionPairs = (plan.columns + plan.tapOffsets.max()!) / 2 + 1
        channelWords = roundUp(plan.channels, 16)
        precondition((plan.channels - 1) * plan.planeStride + 2 * positionPairs + 1 <= plan.paddedCount + Self.extraSlack,
                     "bf16 tap weight gradient reads past its planes")
        gradientPairs = region(plan.outputs * plan.columns / 2)
        evenPairs = region(positionPairs * channelWords)
        oddPairs = region(positionPairs * channelWords)
        orderedGradient = region(shape.groups * shape.groupWeights)
        workspaceFloats = end
    }

    /// Floats past the padded planes that the weight gradient's transposes
    /// may read (zeroed each pass).
    static let extraSlack = 64

    /// Channel pairs of `p`'s input.
    static func channelPairs(_ p: TapConvolution) -> Int { (p.channels + 1) / 2 }
    /// Words between pair planes: one channel's plane (all its phases), rounded up to 16.
    static func pairStride(_ p: TapConvolution) -> Int { roundUp(p.planeStride, 16) }
    /// Words of the pair planes plus the slack that the last plane's junk
    /// columns read past it (as `TapConvolution.paddedCount`).
    static func pairPlaneWords(_ p: TapConvolution) -> Int {
        channelPairs(p) * pairStride(p) + roundUp(p.paddedW + p.kernelW + 16, 16)
    }
    /// Words of one group's paired weights: `outputs` rows of `taps * channelPairs`.
    static func weightWords(_ p: TapConvolution) -> Int { p.outputs * p.kernelH * p.kernelW * channelPairs(p) }

    /// The words at float offset `offset` of the workspace.
    private func words(_ w: UnsafeMutablePointer<Float>, _ offset: Int) -> UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(w + offset).assumingMemoryBound(to: UInt32.self)
    }

    /// Every group's weights in tap order (`rotated`: transposed and rotated,
    /// for the input gradient) as rows of `[tap][channel pair]` words.
    private func pairWeights(_ weights: UnsafePointer<Float>, for p: TapConvolution, rotated: Bool,
                             workspace w: UnsafeMutablePointer<Float>) {
        let geometry = shape.geometry, taps = p.kernelH * p.kernelW
        for g in 0..<shape.groups {
            let dst = w + ordered + g * shape.groupWeights
            tapOrderWeights(weights + g * shape.groupWeights, outputs: shape.outputs, channels: geometry.channels,
                            kernelH: geometry.kernelH, kernelW: geometry.kernelW, rotated: rotated, into: dst)
            // [p.outputs * taps rows][p.channels] -> [p.outputs * taps rows][channel pairs]
            ptrain_bf16_pack_rows(dst, p.channels, p.outputs * taps, p.channels, words(w, pairedWeights) + g * weightWords,
                                  Self.channelPairs(p))
        }
    }

    /// `out[o, e] = sum_t sum_q W[o, t, q] . planes[q, offset_t + e]` for the
    /// columns e that hold output pixels (all e < columns unless the plan
    /// skips junk), row stride `p.columns`: one micro-kernel call per tile,
    /// one segment per tap.
    private func multiply(_ p: TapConvolution, weights: UnsafePointer<UInt32>, planes: UnsafePointer<UInt32>,
                          into out: UnsafeMutablePointer<Float>) {
        let pairs = Self.channelPairs(p), taps = p.kernelH * p.kernelW, aRow = taps * pairs
        let bPair = Self.pairStride(p), ldOut = p.columns
        p.tapOffsets.withUnsafeBufferPointer { offsets in
            @inline(__always) func tile(_ jr: Int, width: Int) {
                var ir = 0
                while ir < p.outputs {
                    bf16MicroKernel(rows: min(gemmMR, p.outputs - ir), cols: width, pairs: pairs, segments: taps,
                                    offsets: offsets.baseAddress!, a: weights + ir * aRow, aRow: aRow, aPair: 1,
                                    b: planes + jr, bPair: bPair, c: out + (ir * ldOut + jr), ldc: ldOut, beta: 0)
                    ir += gemmMR
                }
            }
            if p.skipsJunk {
                for oy in 0..<p.outH {
                    var jr = 0
                    while jr < p.outW {
                        tile(oy * p.paddedW + jr, width: min(gemmNR, p.outW - jr))
                        jr += gemmNR
                    }
                }
            } else {
                var jr = 0
                while jr < p.columns {
                    tile(jr, width: min(gemmNR, p.columns - jr))
                    jr += gemmNR
                }
            }
        }
    }

    /// `out_n (+)= conv_p(source_n)` for group `g` of every image, a strip at
    /// a time: pad (fp32), convert to pair planes, one tap GEMM, copy (or add)
    /// each image's valid columns out (or with `pooled`, their max pool and
    /// then `epilogue`). Slots left empty by a short last strip hold stale
    /// images, whose outputs are computed and dropped.
    private func convolve(_ p: TapConvolution, group g: Int, source: UnsafePointer<Float>, sourceStride: Int,
                          workspace w: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, outStride: Int,
                          batch: Int, accumulate: Bool, pooled: PooledStore? = nil, epilogue: ChannelEpilogue = .none) {
        let planes = words(w, pairPlanes), weights = UnsafePointer(words(w, pairedWeights) + g * weightWords)
        let inPlane = p.height * p.width
        let outPlane = pooled.map { $0.geometry.outH * $0.geometry.outW } ?? p.outH * p.outW
        var first = 0
        while first < batch {
            let count = min(p.images, batch - first)
            for slot in 0..<count {
                p.pad(source + (first + slot) * sourceStride + g * p.channels * inPlane, slot: slot,
                      channelStride: inPlane, into: w + padded)
            }
            // Channel c's plane is row c of [channels, planeStride]; pairs of rows -> pair planes.
            ptrain_bf16_pack_columns(w + padded, p.planeStride, p.channels, p.planeStride, planes, Self.pairStride(p), 0)
            multiply(p, weights: weights, planes: UnsafePointer(planes), into: w + staging)
            for slot in 0..<count {
                let image = out + (first + slot) * outStride + g * p.outputs * outPlane
                if let pooled {
                    pooled.store(w + staging + slot * p.slotPitch, channels: p.outputs, rowPitch: p.paddedW, planePitch: p.columns,
                                 epilogue: epilogue, into: image)
                } else {
                    p.extract(w + staging, ldOut: p.columns, slot: slot, into: image, channelStride: outPlane, accumulate: accumulate)
                }
            }
            first += count
        }
    }

    /// Zeroes `p`'s padded planes (their borders must be zero) and the pair
    /// planes' slack (read only by junk columns, but read).
    private func clear(for p: TapConvolution, workspace w: UnsafeMutablePointer<Float>) {
        (w + padded).update(repeating: 0, count: p.paddedCount)
        let written = Self.channelPairs(p) * Self.pairStride(p)
        (words(w, pairPlanes) + written).update(repeating: 0, count: Self.pairPlaneWords(p) - written)
    }

    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, workspace: ConvolutionWorkspace) {
        forwardPass(x, inputStride: inputStride, weights: weights, into: y, outputStride: outputStride, batch: batch,
                    pooled: nil, epilogue: .none, workspace: workspace)
    }

    /// `PoolStoring`: each strip's staged outputs pooled straight into `y`.
    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                        pooled: PooledStore, batch: Int, epilogue: ChannelEpilogue, workspace: ConvolutionWorkspace) {
        precondition(pooled.takes(channels: shape.groups * plan.outputs, height: plan.outH, width: plan.outW), "a pooled store's geometry must take the convolution's output")
        forwardPass(x, inputStride: inputStride, weights: weights, into: y, outputStride: pooled.outputStride, batch: batch,
                    pooled: pooled, epilogue: epilogue, workspace: workspace)
    }

    /// The forward pass, storing the outputs or (`pooled`) their max pool
    /// through `epilogue`.
    private func forwardPass(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                             into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, pooled: PooledStore?,
                             epilogue: ChannelEpilogue, workspace: ConvolutionWorkspace) {
        let w = workspace.floats
        clear(for: plan, workspace: w)
        pairWeights(weights, for: plan, rotated: false, workspace: w)
        for g in 0..<shape.groups {
            convolve(plan, group: g, source: x, sourceStride: inputStride, workspace: w, into: y, outStride: outputStride,
                     batch: batch, accumulate: false, pooled: pooled, epilogue: epilogue.forChannels(from: g * plan.outputs))
        }
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int,
                              workspace: ConvolutionWorkspace) {
        guard let gradientPlan else { preconditionFailure("bf16 tap input gradient of an unsupported shape") }
        let w = workspace.floats
        clear(for: gradientPlan, workspace: w)
        pairWeights(weights, for: gradientPlan, rotated: true, workspace: w)
        for g in 0..<shape.groups {
            convolve(gradientPlan, group: g, source: dy, sourceStride: outputStride, workspace: w, into: dx,
                     outStride: inputStride, batch: batch, accumulate: true)
        }
    }

    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        let w = workspace.floats, geometry = shape.geometry
        (w + padded + plan.paddedCount).update(repeating: 0, count: Self.extraSlack)
        stripWeightGradient(plan, shape, x, inputStride: inputStride, dy, outputStride: outputStride, batch: batch,
                            padded: w + padded, ordered: w + orderedGradient, depth: geometry.columnRows) { count, gradient, into in
            accumulateWeightGradient(gradient, sampleStride: outputStride, images: count, workspace: w, into: into)
        }
        for g in 0..<shape.groups {
            addTapOrderGradient(w + orderedGradient + g * shape.groupWeights, outputs: shape.outputs, channels: geometry.channels,
                                kernelH: geometry.kernelH, kernelW: geometry.kernelW, into: dW + g * shape.groupWeights)
        }
    }

    /// `into[o, t * C + c] += sum_e dY[o, e] * planes[c, offset_t + e]` for
    /// one strip of `images` images whose padded planes are in place; `dy`
    /// is the strip's first image's gradient of this group (`[O/g, OH, OW]`
    /// each, `sampleStride` apart).
    private func accumulateWeightGradient(_ dy: UnsafePointer<Float>, sampleStride: Int, images: Int,
                                          workspace w: UnsafeMutablePointer<Float>, into: UnsafeMutablePointer<Float>) {
        let p = plan, c = p.channels, taps = p.kernelH * p.kernelW, outPlane = p.outH * p.outW
        // dY in padded-width columns, junk zero: column e of image slot s is
        // output (oy, ox) when e = oy * Wp + s * slotPitch + ox.
        let spread = w + staging
        spread.update(repeating: 0, count: p.outputs * p.columns)
        for slot in 0..<images {
            for o in 0..<p.outputs {
                for oy in 0..<p.outH {
                    copyRow(dy + slot * sampleStride + o * outPlane + oy * p.outW,
                            to: spread + o * p.columns + oy * p.paddedW + slot * p.slotPitch, count: p.outW)
                }
            }
        }
        let dyPairs = words(w, gradientPairs), pairs = p.columns / 2
        ptrain_bf16_pack_rows(spread, p.columns, p.outputs, p.columns, dyPairs, pairs)
        // The planes, position-pair-major, from even and from odd positions.
        let even = words(w, evenPairs), odd = words(w, oddPairs)
        ptrain_bf16_pack_transposed(w + padded, p.planeStride, c, 2 * positionPairs, even, channelWords, 0)
        ptrain_bf16_pack_transposed(w + padded + 1, p.planeStride, c, 2 * positionPairs, odd, channelWords, 0)
        for t in 0..<taps {
            let offset = p.tapOffsets[t]
            let b = UnsafePointer((offset % 2 == 0 ? even : odd) + (offset / 2) * channelWords)
            var jr = 0
            while jr < c {
                var ir = 0
                while ir < p.outputs {
                    bf16MicroKernel(rows: min(gemmMR, p.outputs - ir), cols: min(gemmNR, c - jr), pairs: pairs,
                                    a: UnsafePointer(dyPairs + ir * pairs), aRow: pairs, aPair: 1, b: b + jr, bPair: channelWords,
                                    c: into + (ir * taps * c + t * c + jr), ldc: taps * c, beta: 1)
                    ir += gemmMR
                }
                jr += gemmNR
            }
        }
    }
}
