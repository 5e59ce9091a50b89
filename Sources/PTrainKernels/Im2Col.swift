// im2col / col2im for one image in CHW layout: lowers a 2-D convolution to GEMM.
//
// Column matrix layout: `col[(c * kh + i) * kw + j, oy * outW + ox]`, i.e.
// `[C*KH*KW, OH*OW]` row-major, matching an OIHW weight viewed as `[O, C*KH*KW]`.
// Tap (i, j) of output (oy, ox) reads pixel (oy * SH - PH + i * DH, ox * SW -
// PW + j * DW) (D: the dilation, 1 for a plain convolution). Out-of-image
// taps (padding) read as 0 in im2col and are dropped in col2im.

/// Geometry of a 2-D window sliding over an image plane; shared by convolution
/// and pooling. All sizes in elements; `outH/outW` follow PyTorch's floor rule.
/// A dilation D spreads the kernel's taps D pixels apart (a kernel K spans
/// D * (K - 1) + 1 pixels); 1, the default, is the plain window.
public struct WindowGeometry: Sendable, Hashable {
    public let channels: Int, height: Int, width: Int
    public let kernelH: Int, kernelW: Int
    public let strideH: Int, strideW: Int
    public let padH: Int, padW: Int
    public let dilationH: Int, dilationW: Int

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                strideH: Int, strideW: Int, padH: Int, padW: Int, dilationH: Int = 1, dilationW: Int = 1) {
        self.channels = channels; self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW
        self.padH = padH; self.padW = padW
        self.dilationH = dilationH; self.dilationW = dilationW
    }

    /// Pixels a kernel spans: `D * (K - 1) + 1` (K without dilation).
    public var spanH: Int { dilationH * (kernelH - 1) + 1 }
    public var spanW: Int { dilationW * (kernelW - 1) + 1 }
    /// Whether taps are spread apart (a dilation > 1 on an axis with more
    /// than one tap): only im2col computes such convolutions.
    public var isDilated: Bool { spanH != kernelH || spanW != kernelW }
    /// `floor((H + 2P - span) / S) + 1`; may be <= 0 for impossible shapes (callers validate).
    public var outH: Int { (height + 2 * padH - spanH) / strideH + 1 }
    public var outW: Int { (width + 2 * padW - spanW) / strideW + 1 }
    /// Rows of the column matrix: C*KH*KW.
    public var columnRows: Int { channels * kernelH * kernelW }
    /// Columns of the column matrix: OH*OW.
    public var columnCols: Int { outH * outW }
}

/// `image [C, H, W]` -> `col [C*KH*KW, OH*OW]`. Writes every element of `col`.
/// `rowStride` (default OH*OW) lets several images' columns sit side by side
/// in one wider matrix `[C*KH*KW, images * OH*OW]` (batched convolution GEMMs).
public func im2col(_ image: UnsafePointer<Float>, _ g: WindowGeometry, _ col: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
    let oh = g.outH, ow = g.outW
    let stride = rowStride ?? oh * ow
    // "Same" convolutions (stride 1, output as wide as the input: 3x3 pad 1,
    // 5x5 pad 2) copy each tap's rows as one shifted block of the plane.
    let sameWidth = g.strideH == 1 && g.strideW == 1 && ow == g.width
    var row = 0
    for c in 0..<g.channels {
        let plane = image + c * g.height * g.width
        for ki in 0..<g.kernelH {
            for kj in 0..<g.kernelW {
                let dst = col + row * stride
                if sameWidth {
                    im2colShiftedPlane(plane, g, dst, dy: ki * g.dilationH - g.padH, dx: kj * g.dilationW - g.padW)
                    row += 1
                    continue
                }
                for oy in 0..<oh {
                    let iy = oy * g.strideH - g.padH + ki * g.dilationH
                    let drow = dst + oy * ow
                    if iy < 0 || iy >= g.height {
                        drow.update(repeating: 0, count: ow)
                        continue
                    }
                    let srow = plane + iy * g.width
                    if g.strideW == 1 {
                        // Contiguous run: copy the valid middle, zero the padded ends.
                        let shift = kj * g.dilationW - g.padW  // ix = ox + shift
                        let lo = max(0, -shift), hi = min(ow, g.width - shift)
                        if lo > 0 { drow.update(repeating: 0, count: min(lo, ow)) }
                        if hi > lo { (drow + lo).update(from: srow + lo + shift, count: hi - lo) }
                        if hi < ow { (drow + max(hi, 0)).update(repeating: 0, count: ow - max(hi, 0)) }
                    } else {
                        for ox in 0..<ow {
                            let ix = ox * g.strideW - g.padW + kj * g.dilationW
                            drow[ox] = (ix >= 0 && ix < g.width) ? srow[ix] : 0
                        }
                    }
                }
                row += 1
            }
        }
    }
}

/// One tap's column row of a same-width convolution: `dst[oy * W + ox] =
/// plane[(oy + dy) * W + ox + dx]`, 0 outside the plane. The valid rows are
/// one contiguous block of the plane shifted by `dy * W + dx`: copied in one
/// call (a call per output row cost more than the copy itself at 8-32
/// floats per row), then the `|dx|` elements per row that wrapped around from
/// the neighbouring row are zeroed.
@inline(__always)
private func im2colShiftedPlane(_ plane: UnsafePointer<Float>, _ g: WindowGeometry, _ dst: UnsafeMutablePointer<Float>,
                                dy: Int, dx: Int) {
    let w = g.width, oh = g.outH
    let lo = min(max(0, -dy), oh), hi = max(min(oh, g.height - dy), lo)
    if lo > 0 { dst.update(repeating: 0, count: lo * w) }
    if hi < oh { (dst + hi * w).update(repeating: 0, count: (oh - hi) * w) }
    guard hi > lo else { return }
    // Skip the first -dx (or last dx) elements of the block: they would read
    // outside the plane, and are padding anyway.
    let head = max(0, -dx), tail = max(0, dx)
    let count = (hi - lo) * w - head - tail
    if count > 0 { (dst + lo * w + head).update(from: plane + (lo + dy) * w + dx + head, count: count) }
    for oy in lo..<hi {
        let r = dst + oy * w
        for ox in 0..<min(head, w) { r[ox] = 0 }
        for ox in max(w - tail, 0)..<w { r[ox] = 0 }
    }
}

/// `col [C*KH*KW, OH*OW]` -> `image [C, H, W]`, ACCUMULATING (+=) into `image`
/// (overlapping windows sum, which is what the gradient of im2col is).
/// `rowStride` as in `im2col`.
public func col2imAccumulate(_ col: UnsafePointer<Float>, _ g: WindowGeometry, _ image: UnsafeMutablePointer<Float>,
                             rowStride: Int? = nil) {
    let oh = g.outH, ow = g.outW
    let stride = rowStride ?? oh * ow
    var row = 0
    for c in 0..<g.channels {
        let plane = image + c * g.height * g.width
        for ki in 0..<g.kernelH {
            for kj in 0..<g.kernelW {
                let src = col + row * stride
                for oy in 0..<oh {
                    let iy = oy * g.strideH - g.padH + ki * g.dilationH
                    if iy < 0 || iy >= g.height { continue }
                    let srow = src + oy * ow
                    let drow = plane + iy * g.width
                    if g.strideW == 1 {
                        let shift = kj * g.dilationW - g.padW
                        let lo = max(0, -shift), hi = min(ow, g.width - shift)
                        if hi > lo { accumulate(srow + lo, into: drow + lo + shift, count: hi - lo) }
                    } else {
                        accumulateStrided(srow, into: drow, stride: g.strideW, shift: kj * g.dilationW - g.padW, count: ow, width: g.width)
                    }
                }
                row += 1
            }
        }
    }
}

/// `row[ox * stride + shift] += src[ox]` for ox < count where the index lies
/// in `0 ..< width` (the rest fall in the padding). Stride 2 (ResNet's and
/// AlexNet's transitions) adds 8 or 4 values at a time onto every other
/// lane of a vector loaded from the row, while the whole vector lies inside
/// the row: the scalar loop's branch per element cost more than the adds.
@inline(__always)
private func accumulateStrided(_ src: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>, stride: Int,
                               shift: Int, count: Int, width: Int) {
    guard width - 1 - shift >= 0 else { return }
    var ox = shift >= 0 ? 0 : (-shift + stride - 1) / stride
    let end = min(count, (width - 1 - shift) / stride + 1)
    if stride == 2 {
        while ox + 8 <= end && 2 * ox + shift + 16 <= width {
            let p = UnsafeMutableRawPointer(row + 2 * ox + shift)
            var v = p.loadUnaligned(as: SIMD16<Float>.self)
            v.evenHalf += UnsafeRawPointer(src + ox).loadUnaligned(as: SIMD8<Float>.self)
            p.storeBytes(of: v, as: SIMD16<Float>.self)
            ox += 8
        }
        if ox + 4 <= end && 2 * ox + shift + 8 <= width {
            let p = UnsafeMutableRawPointer(row + 2 * ox + shift)
            var v = p.loadUnaligned(as: SIMD8<Float>.self)
            v.evenHalf += UnsafeRawPointer(src + ox).loadUnaligned(as: SIMD4<Float>.self)
            p.storeBytes(of: v, as: SIMD8<Float>.self)
            ox += 4
        }
    }
    while ox < end {
        row[ox * stride + shift] += src[ox]
        ox += 1
    }
}
