// The 1-D tile transforms of Winograd's F(4x4, 3x3) and F(2x2, 5x5) on
// vectors of 16 channels, the channels-last copies around them and the
// caller's buffers (WinogradConvolution.swift has the method).

/// 16 channels of one pixel or tile element.
typealias WinogradVector = SIMD16<Float>

@inline(__always)
func loadVector(_ p: UnsafePointer<Float>) -> WinogradVector {
    UnsafeRawPointer(p).loadUnaligned(as: WinogradVector.self)
}

@inline(__always)
func storeVector(_ v: WinogradVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: WinogradVector.self)
}

/// Six vectors: one row or column of a 6x6 tile.
typealias WinogradSix = (WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector)

/// B^T d for one column of six:
///   [4  0 -5  0 1 0]   [0 -4 -4  1 1 0]   [0 4 -4 -1 1 0]
///   [0 -2 -1  2 1 0]   [0  2 -1 -2 1 0]   [0 4  0 -5 0 1]
@inline(__always)
func inputTransform(_ d: WinogradSix) -> WinogradSix {
    let p12 = d.1 + d.2, m12 = d.1 - d.2, m31 = d.3 - d.1, m42 = d.4 - d.2
    return ((d.4 - 5 * d.2).addingProduct(4, d.0),
            (d.3 + d.4).addingProduct(-4, p12),
            (d.4 - d.3).addingProduct(4, m12),
            m42.addingProduct(2, m31),
            m42.addingProduct(-2, m31),
            (d.5 - 5 * d.3).addingProduct(4, d.1))
}

/// A^T s for one column of six, m = 4 (`four`) or 2 outputs in .0 ... .3:
///   [1 1 1 1 1 0], [0 1 -1 2 -2 0], [0 1 1 4 4 0], [0 1 -1 8 -8 1]   (m = 4)
///   [1 1 1 1 1 0], [0 1 -1 2 -2 1]                                    (m = 2)
@inline(__always)
func outputTransform(_ s: WinogradSix, four: Bool) -> (WinogradVector, WinogradVector, WinogradVector, WinogradVector) {
    let p12 = s.1 + s.2, m12 = s.1 - s.2, p34 = s.3 + s.4, m34 = s.3 - s.4
    if four {
        return (s.0 + p12 + p34, m12.addingProduct(2, m34), p12.addingProduct(4, p34), (m12 + s.5).addingProduct(8, m34))
    }
    return (s.0 + p12 + p34, (m12 + s.5).addingProduct(2, m34), WinogradVector(), WinogradVector())
}

/// A q for m = 4 or 2 values q (the transpose of `outputTransform`).
@inline(__always)
func gradientTransform(_ q: (WinogradVector, WinogradVector, WinogradVector, WinogradVector), four: Bool) -> WinogradSix {
    if four {
        let p02 = q.0 + q.2, p13 = q.1 + q.3, e = q.0.addingProduct(4, q.2), o = (2 * q.1).addingProduct(8, q.3)
        return (q.0, p02 + p13, p02 - p13, e + o, e - o, q.3)
    }
    return (q.0, q.0 + q.1, q.0 - q.1, q.0.addingProduct(2, q.1), q.0.addingProduct(-2, q.1), q.1)
}

/// Offsets (floats) of an image's pixels in plane order within a layout of
/// `rowPitch` floats per row and `pixelPitch` per pixel, without a division
/// per pixel.
struct PixelWalk {
    let width: Int, rowPitch: Int, pixelPitch: Int
    private var column = 0, offset = 0
    init(width: Int, rowPitch: Int, pixelPitch: Int) {
        self.width = width; self.rowPitch = rowPitch; self.pixelPitch = pixelPitch
    }
    /// The current pixel's offset; then steps to the next pixel.
    @inline(__always)
    mutating func next() -> Int {
        let current = offset
        column += 1
        if column == width {
            column = 0
            offset += rowPitch - (width - 1) * pixelPitch
        } else {
            offset += pixelPitch
        }
        return current
    }
}

/// One NCHW image (`channels` planes of height x width) into channels-last
/// pixels: pixel (h, w) at `dst + h * rowPitch + w * channels`. 16 pixels
/// (in plane order) x 16 channels at a time, transposed in registers; the
/// plane's last pixels (H*W % 16) one by one.
func copyChannelsLast(_ src: UnsafePointer<Float>, channels c: Int, height: Int, width: Int,
                              into dst: UnsafeMutablePointer<Float>, rowPitch: Int) {
    let plane = height * width, whole = plane / 16 * 16
    for cb in stride(from: 0, to: c, by: 16) {
        var target = PixelWalk(width: width, rowPitch: rowPitch, pixelPitch: c)
        var p = 0
        while p < whole {
            var block = Block16x16(rows: src + cb * plane + p, stride: plane)
            block.transpose()
            block.forEachRow { _, v in storeVector(v, dst + target.next() + cb) }
            p += 16
        }
        for q in whole..<plane {
            let d = dst + target.next() + cb
            for k in 0..<16 { d[k] = src[(cb + k) * plane + q] }
        }
    }
}

/// The caller's scratch for one plan (counts from the plan): zero-filled
/// once, reused by every pass.
public struct WinogradBuffers {
    public var padded: UnsafeMutablePointer<Float>
    public var transformed: UnsafeMutablePointer<Float>
    public var products: UnsafeMutablePointer<Float>
    public var tiled: UnsafeMutablePointer<Float>
    /// `WinogradConvolution.scratchCount` floats, 64-byte aligned: one
    /// tile's intermediate vectors (too big for the stack's temporary
    /// allocations, which would then come from the heap).
    public var scratch: UnsafeMutablePointer<Float>
    public init(padded: UnsafeMutablePointer<Float>, transformed: UnsafeMutablePointer<Float>,
                products: UnsafeMutablePointer<Float>, tiled: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        self.padded = padded; self.transformed = transformed; self.products = products; self.tiled = tiled
        self.scratch = scratch
    }
}
