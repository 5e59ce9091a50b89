// WinogradConvolution's passes: a block of images at a time, copy to
// channels-last padded planes, transform, alpha^2 GEMMs, inverse transform, copy
// out (WinogradConvolution.swift has the method, WinogradTransforms.swift
// the transforms).

extension WinogradConvolution {
    /// `y_n (+)= conv(x_n)` for `batch` NCHW images (`sampleStride` and
    /// `outSampleStride` floats apart), with `u` from `transformWeights`;
    /// `epilogue` applied as the outputs are stored (not with `accumulate`),
    /// with `residual` (NCHW like y, `residualStride` floats per image) added
    /// before its relu.
    ///
    /// `prepadded`: x holds this pass's input planes already (`inputLayout`
    /// per image, `sampleStride` floats apart, borders zero), and the copy
    /// into `b.padded` is skipped. `planesOut`: y is stored as a later
    /// pass's input planes (`storePlanes`) instead of NCHW, through a
    /// fusable `epilogue` (no `accumulate`, no `residual`).
    public func forward(_ x: UnsafePointer<Float>, sampleStride: Int, batch: Int, weights u: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outSampleStride: Int, accumulate: Bool,
                        epilogue: ChannelEpilogue = .none, residual: UnsafePointer<Float>? = nil, residualStride: Int = 0,
                        prepadded: Bool = false, planesOut: WinogradPlanes? = nil, pooled: PooledStore? = nil,
                        buffers b: WinogradBuffers) {
        precondition(!accumulate || !epilogue.fusable)
        if let pooled {
            precondition(!accumulate && residual == nil && planesOut == nil
                         && pooled.takes(channels: outputs, height: outH, width: outW),
                         "a pooled store's geometry must take the convolution's output")
        }
        precondition(residual == nil || epilogue.fusable)
        precondition(!prepadded || sampleStride >= inputLayout.imageFloats)
        if let planesOut {
            precondition(epilogue.fusable && !accumulate && residual == nil && outSampleStride >= planesOut.imageFloats
                         && planesOut.channels == outputs && planesOut.height == outH && planesOut.width == outW)
        }
        var first = 0
        while first < batch {
            let count = min(images, batch - first)
            let planes: UnsafePointer<Float>
            if prepadded {
                planes = x + first * sampleStride
            } else {
                loadPlanes(x + first * sampleStride, sampleStride: sampleStride, count: count, into: b.padded)
                planes = UnsafePointer(b.padded)
            }
            transformInput(planes, imageStride: prepadded ? sampleStride : inputLayout.imageFloats, count: count,
                           into: b.transformed, scratch: b.scratch)
            multiply(b.transformed, u, tiles: count * tilesPerImage, into: b.products)
            transformOutput(b.products, count: count, into: b.tiled, scratch: b.scratch)
            if let planesOut {
                storePlanes(b.tiled, count: count, into: y + first * outSampleStride, sampleStride: outSampleStride,
                            planes: planesOut, epilogue: epilogue)
            } else if let pooled {
                let row = tilesW * tile * outputs
                pooled.store(channelsLast: b.tiled, count: count, rowPitch: row, imagePitch: tilesH * tile * row, channels: outputs,
                             epilogue: epilogue, into: y + first * outSampleStride)
            } else {
                storeOutput(b.tiled, count: count, into: y + first * outSampleStride, sampleStride: outSampleStride,
                            accumulate: accumulate, epilogue: epilogue, residual: residual.map { $0 + first * residualStride },
                            residualStride: residualStride)
            }
            first += count
        }
    }

    /// This pass's input planes, as `loadPlanes` fills them.
    public var inputLayout: WinogradPlanes {
        WinogradPlanes(channels: channels, height: height, width: width, pad: pad, paddedH: paddedH, paddedW: paddedW)
    }

    /// The channels-last tiles into `planes` (a later pass's input planes,
    /// one image per `sampleStride` floats): each output pixel's channel
    /// vectors through `epilogue` (lane by lane the bits of `storeOutput`'s
    /// `EpilogueStore`), the borders zeroed. No transposes: the tiles and
    /// the planes are both channels-last.
    func storePlanes(_ tiled: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, sampleStride: Int,
                     planes p: WinogradPlanes, epilogue: ChannelEpilogue) {
        let o = outputs, tiledRow = tilesW * tile * o, image = tilesH * tile * tiledRow
        let whole = outH * outW / 16 * 16, row = p.paddedW * o, right = (p.paddedW - p.pad - outW) * o
        for n in 0..<count {
            let src = tiled + n * image, dst = y + n * sampleStride
            dst.update(repeating: 0, count: p.pad * row)
            (dst + (p.pad + outH) * row).update(repeating: 0, count: (p.paddedH - p.pad - outH) * row)
            for oy in 0..<outH {
                let s = src + oy * tiledRow, d = dst + (p.pad + oy) * row
                d.update(repeating: 0, count: p.pad * o)
                (d + (p.pad + outW) * o).update(repeating: 0, count: right)
                var q = d + p.pad * o, v = s
                for ox in 0..<outW {
                    let inBlock = oy * outW + ox < whole
                    for ob in stride(from: 0, to: o, by: 16) {
                        storeVector(epilogue.apply(channelsFrom: ob, loadVector(v + ob), inBlock: inBlock), q + ob)
                    }
                    q += o; v += o
                }
            }
        }
    }

    /// `dW += dL/dW` (OIHW) for `batch` images of input `x` and output
    /// gradient `dy` (NCHW); `du` (`transformedWeightCount` floats) is scratch.
    public func weightGradient(_ x: UnsafePointer<Float>, sampleStride: Int, _ dy: UnsafePointer<Float>,
                               gradientSampleStride: Int, batch: Int, scratch du: UnsafeMutablePointer<Float>,
                               buffers b: WinogradBuffers, into dw: UnsafeMutablePointer<Float>, workspace: GEMMWorkspace) {
        du.update(repeating: 0, count: transformedWeightCount)
        var first = 0
        while first < batch {
            let count = min(images, batch - first)
            loadPlanes(x + first * sampleStride, sampleStride: sampleStride, count: count, into: b.padded)
            transformInput(b.padded, count: count, into: b.transformed, scratch: b.scratch)
            loadGradient(dy + first * gradientSampleStride, sampleStride: gradientSampleStride, count: count, into: b.tiled)
            transformGradient(b.tiled, count: count, into: b.products, scratch: b.scratch)
            accumulateProducts(b.products, b.transformed, tiles: count * tilesPerImage, into: du)
            first += count
        }
        addWeightGradient(du, into: dw, workspace: workspace)
    }

    /// The input gradient `dx += ...` (`overwrite`: `dx = 0 + ...`; by `g`, this convolution's
    /// `inputGradient` plan, with its transformed weights `ug`) and the
    /// weight gradient `dW += ...` in one walk over blocks: each block's dY
    /// is copied once, into g's padded planes (`b.padded`), where g's input
    /// transform and this plan's gradient transform both read it
    /// (`sharesGradientCopy(with: g)`); the block's x goes to `inputPlanes`
    /// (`paddedCount` floats, zero borders). The same bits as
    /// `g.forward(accumulate: !overwrite)` and `weightGradient`.
    func backward(_ x: UnsafePointer<Float>, sampleStride: Int, _ dy: UnsafePointer<Float>, gradientSampleStride: Int,
                  batch: Int, gradient g: WinogradConvolution, gradientWeights ug: UnsafePointer<Float>,
                  into dx: UnsafeMutablePointer<Float>, inputGradientStride: Int, overwrite: Bool,
                  scratch du: UnsafeMutablePointer<Float>,
                  buffers b: WinogradBuffers, inputPlanes: UnsafeMutablePointer<Float>, into dw: UnsafeMutablePointer<Float>,
                  workspace: GEMMWorkspace) {
        precondition(sharesGradientCopy(with: g))
        du.update(repeating: 0, count: transformedWeightCount)
        // dY's pixel (0, 0) in g's planes, and their row and image pitches (floats).
        let row = g.paddedW * outputs, image = g.paddedH * row, origin = (g.pad * g.paddedW + g.pad) * outputs
        var first = 0
        while first < batch {
            let count = min(images, batch - first)
            // One block of g's pass; it leaves the block's dY in b.padded.
            g.forward(dy + first * gradientSampleStride, sampleStride: gradientSampleStride, batch: count, weights: ug,
                      into: dx + first * inputGradientStride, outSampleStride: inputGradientStride, accumulate: !overwrite,
                      buffers: b)
            loadPlanes(x + first * sampleStride, sampleStride: sampleStride, count: count, into: inputPlanes)
            transformInput(inputPlanes, count: count, into: b.transformed, scratch: b.scratch)
            transformGradient(b.padded + origin, rowPitch: row, imagePitch: image, count: count, into: b.products,
                              scratch: b.scratch)
            accumulateProducts(b.products, b.transformed, tiles: count * tilesPerImage, into: du)
            first += count
        }
        addWeightGradient(du, into: dw, workspace: workspace)
    }

    /// Whether `backward` can read this plan's dY tiles from `g`'s padded
    /// planes: g is the input-gradient plan of the same blocks and tiles,
    /// and its border holds the tiles' overhang (zero, as `loadGradient`
    /// writes it).
    public func sharesGradientCopy(with g: WinogradConvolution) -> Bool {
        g.images == images && g.channels == outputs && g.height == outH && g.width == outW
            && g.pad + tilesH * tile <= g.paddedH && g.pad + tilesW * tile <= g.paddedW
    }

    /// NCHW images into the interiors of the channels-last padded planes:
    /// 16 pixels (in plane order) x 16 channels at a time, transposed in
    /// registers; the plane's last pixels (H*W % 16) one by one.
    func loadPlanes(_ x: UnsafePointer<Float>, sampleStride: Int, count: Int, into padded: UnsafeMutablePointer<Float>) {
        let c = channels
        for n in 0..<count {
            copyChannelsLast(x + n * sampleStride, channels: c, height: height, width: width,
                             into: padded + n * paddedH * paddedW * c + (pad * paddedW + pad) * c, rowPitch: paddedW * c)
        }
    }

    /// `V[e][t][c] = (B^T d_t B)[e]` for the block's tiles t (image-major,
    /// then tile rows, then columns).
    /// `imageStride`: floats between the images' planes (default: packed).
    func transformInput(_ padded: UnsafePointer<Float>, imageStride: Int? = nil, count: Int, into v: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>) {
        let stride = imageStride ?? inputLayout.imageFloats
        switch (alpha, tile) {
        case (8, _): transformInput(WinogradF45.self, padded, stride, count: count, into: v, scratch: scratch)
        case (_, 4): transformInput(WinogradF43.self, padded, stride, count: count, into: v, scratch: scratch)
        default: transformInput(WinogradF25.self, padded, stride, count: count, into: v, scratch: scratch)
        }
    }

    @inline(__always)
    private func transformInput<T: WinogradTileTransforms>(_: T.Type, _ padded: UnsafePointer<Float>, _ imageStride: Int, count: Int,
                                                  into v: UnsafeMutablePointer<Float>, scratch tmp: UnsafeMutablePointer<Float>) {
        // Strides and pointers stepped, not multiplied, in the loops: an
        // overflow-checked product per call costs ~8% of a 3x3 layer here.
        let a = T.alpha, c = channels, rowStride = paddedW * c, eStride = inputElementStride
        let outRow = a * eStride
        forEachTile(count: count) { t, n, th, tw in
            let base = padded + n * imageStride + ((th * tile) * paddedW + tw * tile) * c
            for cb in stride(from: 0, to: c, by: 16) {
                T.inputTile(base + cb, rowStride, c, v + t * c + cb, outRow, eStride, scratch: tmp)
            }
        }
    }

    /// Calls `body(t, n, th, tw)` for the tiles of `count` images in block
    /// order: tile t is tile (th, tw) of image n (image-major, then rows).
    @inline(__always)
    func forEachTile(count: Int, _ body: (_ t: Int, _ n: Int, _ th: Int, _ tw: Int) -> Void) {
        var t = 0
        for n in 0..<count {
            for th in 0..<tilesH {
                for tw in 0..<tilesW {
                    body(t, n, th, tw)
                    t += 1
                }
            }
        }
    }

    /// `M[e][t][o] = sum_c V[e][t][c] * U[e][c][o]` for `tiles` tiles.
    func multiply(_ v: UnsafePointer<Float>, _ u: UnsafePointer<Float>, tiles: Int, into m: UnsafeMutablePointer<Float>) {
        let c = channels, o = outputs
        for e in 0..<elements {
            let ve = v + e * inputElementStride, ue = u + e * c * o, me = m + e * productElementStride
            if c == 16 && o == 16 {
                winogradMultiply16(ve, ue, tiles: tiles, into: me)   // U_e in registers (WinogradMultiply16.swift)
                continue
            }
            var r = 0
            while r < tiles {
                let height = min(gemmMR, tiles - r)
                var col = 0
                while col < o {
                    let width = o - col >= gemmNR ? gemmNR : gemmNRNarrow
                    sgemmRowsMicroKernel(rows: height, width: width, kc: c, a: ve + r * c, lda: c, b: ue + col, bRowStride: o,
                                         c: me + r * o + col, ldc: o, beta: 0)
                    col += width
                }
                r += gemmMR
            }
        }
    }

    /// Channels-last output tiles `A^T M_t A` (m x m pixels each).
    func transformOutput(_ m: UnsafePointer<Float>, count: Int, into tiled: UnsafeMutablePointer<Float>,
                         scratch: UnsafeMutablePointer<Float>) {
        switch (alpha, tile) {
        case (8, _): transformOutput(WinogradF45.self, m, count: count, into: tiled, scratch: scratch)
        case (_, 4): transformOutput(WinogradF43.self, m, count: count, into: tiled, scratch: scratch)
        default: transformOutput(WinogradF25.self, m, count: count, into: tiled, scratch: scratch)
        }
    }

    @inline(__always)
    private func transformOutput<T: WinogradTileTransforms>(_: T.Type, _ m: UnsafePointer<Float>, count: Int,
                                                   into tiled: UnsafeMutablePointer<Float>, scratch tmp: UnsafeMutablePointer<Float>) {
        let a = T.alpha, o = outputs, tiledW = tilesW * tile, eStride = productElementStride
        let column = a * eStride, outRow = tiledW * o
        forEachTile(count: count) { t, n, th, tw in
            let base = tiled + ((n * tilesH + th) * tile * tiledW + tw * tile) * o
            for ob in stride(from: 0, to: o, by: 16) {
                T.outputTile(m + t * o + ob, column, eStride, base + ob, outRow, o, scratch: tmp)
            }
        }
    }

    /// The valid pixels of the channels-last tiles into NCHW images (added
    /// with `accumulate`): 16 pixels x 16 channels at a time, as `loadPlanes`,
    /// through `epilogue` when it is fusable (the plane's 16-pixel blocks and
    /// its last pixels, as the separate passes split them), `residual`'s
    /// values added before its relu. Without an epilogue the stored value
    /// is `0 + v`: bitwise what `accumulate` leaves in a zeroed y (an input
    /// gradient written instead of added, `InputGradientOverwriting`).
    func storeOutput(_ tiled: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, sampleStride: Int,
                     accumulate: Bool, epilogue: ChannelEpilogue = .none, residual: UnsafePointer<Float>? = nil,
                     residualStride: Int = 0) {
        let image = tilesH * tile * tilesW * tile * outputs
        // One loop per way of writing, chosen once per image.
        for n in 0..<count {
            let dst = y + n * sampleStride, src = tiled + n * image
            if accumulate {
                storeImage(src, dst, AddingStore())
            } else if let residual {
                storeImage(src, dst, ResidualStore(epilogue: epilogue, residual: residual + n * residualStride))
            } else if epilogue.fusable {
                storeImage(src, dst, EpilogueStore(epilogue: epilogue))
            } else {
                storeImage(src, dst, PlainStore())
            }
        }
    }

    /// One image of `storeOutput`: `src` its tiles, `dst` its NCHW planes.
    @inline(__always)
    private func storeImage<S: TileStore>(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ store: S) {
        let o = outputs, tiledW = tilesW * tile, plane = outH * outW, whole = plane / 16 * 16
        for ob in stride(from: 0, to: o, by: 16) {
            var source = PixelWalk(width: outW, rowPitch: tiledW * o, pixelPitch: o)
            var p = 0
            while p < whole {
                var block = Block16x16 { _ in loadVector(src + source.next() + ob) }
                block.transpose()
                block.forEachRow { k, v in store.vector(v, channel: ob + k, at: (ob + k) * plane + p, in: dst) }
                p += 16
            }
            for q in whole..<plane {
                let s = src + source.next() + ob
                for k in 0..<16 { store.scalar(s[k], channel: ob + k, at: (ob + k) * plane + q, in: dst) }
            }
        }
    }

    /// NCHW output gradients into channels-last tiles, zero past the image.
    func loadGradient(_ dy: UnsafePointer<Float>, sampleStride: Int, count: Int, into tiled: UnsafeMutablePointer<Float>) {
        let o = outputs, tiledH = tilesH * tile, tiledW = tilesW * tile
        for n in 0..<count {
            let src = dy + n * sampleStride, dst = tiled + n * tiledH * tiledW * o
            // The overhang (rows and columns past the image) is zero.
            for h in 0..<tiledH where h >= outH || outW < tiledW {
                let from = h >= outH ? 0 : outW
                (dst + (h * tiledW + from) * o).update(repeating: 0, count: (tiledW - from) * o)
            }
            copyChannelsLast(src, channels: o, height: outH, width: outW, into: dst, rowPitch: tiledW * o)
        }
    }

    /// `(A dY_t A^T)[e]` for the block's tiles, as packed GEMM A panels:
    /// `[e][o / 8][t][8]` (8 output channels per k step). dY is channels-last
    /// from `tiled` (`loadGradient`'s layout) or, with `rowPitch` and
    /// `imagePitch` in floats, any layout whose pixels past the image are
    /// zero (the input-gradient plan's padded planes, from their interior).
    func transformGradient(_ tiled: UnsafePointer<Float>, rowPitch: Int? = nil, imagePitch: Int? = nil, count: Int,
                           into packed: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let row = rowPitch ?? tilesW * tile * outputs, image = imagePitch ?? tilesH * tile * row
        switch (alpha, tile) {
        case (8, _): transformGradient(WinogradF45.self, tiled, row, image, count: count, into: packed, scratch: scratch)
        case (_, 4): transformGradient(WinogradF43.self, tiled, row, image, count: count, into: packed, scratch: scratch)
        default: transformGradient(WinogradF25.self, tiled, row, image, count: count, into: packed, scratch: scratch)
        }
    }

    @inline(__always)
    private func transformGradient<T: WinogradTileTransforms>(_: T.Type, _ tiled: UnsafePointer<Float>, _ rowPitch: Int,
                                                              _ imagePitch: Int, count: Int, into packed: UnsafeMutablePointer<Float>,
                                                              scratch tmp: UnsafeMutablePointer<Float>) {
        let a = T.alpha, o = outputs, rows = rowsPerBlock
        let eStride = productElementStride, half = rows * gemmMR
        forEachTile(count: count) { t, n, th, tw in
            let base = tiled + n * imagePitch + th * tile * rowPitch + tw * tile * o
            for ob in stride(from: 0, to: o, by: 16) {
                // Two 8-channel panels: element (x, y) at panel + (x * a + y) * eStride.
                let panel = packed + ((ob / gemmMR) * rows + t) * gemmMR
                T.gradientTile(base + ob, rowPitch, o, panel, a * eStride, eStride, half: half, scratch: tmp)
            }
        }
    }

    /// `dU[e][o][c] += sum_t Z[e][t][o] * V[e][t][c]` over `tiles` tiles.
    func accumulateProducts(_ packed: UnsafePointer<Float>, _ v: UnsafePointer<Float>, tiles: Int,
                            into du: UnsafeMutablePointer<Float>) {
        let c = channels, o = outputs, rows = rowsPerBlock, panels = o / gemmMR
        for e in 0..<elements {
            let ve = v + e * inputElementStride
            for p in 0..<panels {
                let a = packed + e * productElementStride + p * rows * gemmMR
                var col = 0
                while col < c {
                    let width = c - col >= gemmNR ? gemmNR : gemmNRNarrow
                    sgemmMicroKernel(rows: gemmMR, width: width, kc: tiles, a: a, b: ve + col, bRowStride: c,
                                     c: du + (e * o + p * gemmMR) * c + col, ldc: c, beta: 1)
                    col += width
                }
            }
        }
    }
}

/// How `storeOutput` writes the output value `v` of channel `channel` at
/// `y[at]` (`at` floats into the image): one specialised loop per kind.
protocol TileStore {
    func vector(_ v: SIMD16<Float>, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>)
    func scalar(_ v: Float, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>)
}

/// `y = 0 + v` (what adding into zeros gives).
struct PlainStore: TileStore {
    @inline(__always)
    func vector(_ v: SIMD16<Float>, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>) {
        storeVector(SIMD16<Float>(repeating: 0) + v, y + at)
    }
    @inline(__always)
    func scalar(_ v: Float, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>) { y[at] = 0 + v }
}

/// `y += v`.
struct AddingStore: TileStore {
    @inline(__always)
    func vector(_ v: SIMD16<Float>, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>) {
        storeVector(v + loadVector(y + at), y + at)
    }
    @inline(__always)
    func scalar(_ v: Float, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>) { y[at] += v }
}

/// `y = epilogue(v)`.
struct EpilogueStore: TileStore {
    let epilogue: ChannelEpilogue
    @inline(__always)
    func vector(_ v: SIMD16<Float>, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>) {
        storeVector(epilogue.apply(v, channel: channel), y + at)
    }
    @inline(__always)
    func scalar(_ v: Float, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>) { y[at] = epilogue.apply(v, channel: channel) }
}

/// `y = epilogue(v)` with `residual[at]` added before its relu.
struct ResidualStore: TileStore {
    let epilogue: ChannelEpilogue, residual: UnsafePointer<Float>
    @inline(__always)
    func vector(_ v: SIMD16<Float>, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>) {
        storeVector(epilogue.apply(v, channel: channel, plus: loadVector(residual + at)), y + at)
    }
    @inline(__always)
    func scalar(_ v: Float, channel: Int, at: Int, in y: UnsafeMutablePointer<Float>) {
        y[at] = epilogue.apply(v, channel: channel, plus: residual[at])
    }
}
