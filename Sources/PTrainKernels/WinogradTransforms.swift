// The 1-D tile transforms of Winograd's F(4x4, 3x3), F(2x2, 5x5) and
// F(4x4, 5x5) on vectors of 16 channels, the channels-last copies around
// them and the caller's buffers (WinogradConvolution.swift has the method).

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

/// The 1-D transforms of one Winograd variant F(m, r) on tiles of `alpha`
/// = m + r - 1 elements, on vectors of 16 channels addressed in floats:
/// element i of the source at `s + i * ss`, of the destination at
/// `d + i * ds`. The matrices are those of `WinogradConvolution.kernelRows`'
/// interpolation points (B^T is the same for every variant of one alpha).
protocol WinogradTiles {
    static var alpha: Int { get }
    /// Outputs per tile edge.
    static var m: Int { get }
    /// `B^T d`: alpha vectors to alpha.
    static func input(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int)
    /// `A^T s`: alpha vectors to m.
    static func output(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int)
    /// `A q` (the transpose of `output`): m vectors to alpha.
    static func gradient(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int)
}

/// B^T d on 6 points (0, 1, -1, 2, -2, infinity), for F(4, 3) and F(2, 5):
///   [4  0 -5  0 1 0]   [0 -4 -4  1 1 0]   [0 4 -4 -1 1 0]
///   [0 -2 -1  2 1 0]   [0  2 -1 -2 1 0]   [0 4  0 -5 0 1]
@inline(__always)
func inputSix(_ d0: WinogradVector, _ d1: WinogradVector, _ d2: WinogradVector,
              _ d3: WinogradVector, _ d4: WinogradVector, _ d5: WinogradVector) -> WinogradSix {
    let p12 = d1 + d2, m12 = d1 - d2, m31 = d3 - d1, m42 = d4 - d2
    return ((d4 - 5 * d2).addingProduct(4, d0), (d3 + d4).addingProduct(-4, p12), (d4 - d3).addingProduct(4, m12),
            m42.addingProduct(2, m31), m42.addingProduct(-2, m31), (d5 - 5 * d3).addingProduct(4, d1))
}

/// The variants on 6x6 tiles: alpha 6 and the input transform `inputSix`.
protocol WinogradSixTiles: WinogradTiles {}

extension WinogradSixTiles {
    static var alpha: Int { 6 }
    @inline(__always)
    static func input(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        storeSix(inputSix(loadVector(s), loadVector(s + ss), loadVector(s + 2 * ss),
                          loadVector(s + 3 * ss), loadVector(s + 4 * ss), loadVector(s + 5 * ss)), d, ds)
    }
}

/// The shared terms of A^T s on 6 points: sum = s0 + (s1 + s2) + (s3 + s4),
/// s1 +- s2, s3 +- s4 and s5.
@inline(__always)
private func outputSums(_ s: UnsafePointer<Float>, _ ss: Int)
    -> (sum: WinogradVector, p12: WinogradVector, m12: WinogradVector, p34: WinogradVector, m34: WinogradVector, s5: WinogradVector) {
    let s0 = loadVector(s), s1 = loadVector(s + ss), s2 = loadVector(s + 2 * ss)
    let s3 = loadVector(s + 3 * ss), s4 = loadVector(s + 4 * ss), s5 = loadVector(s + 5 * ss)
    let p12 = s1 + s2, m12 = s1 - s2, p34 = s3 + s4, m34 = s3 - s4
    return (s0 + p12 + p34, p12, m12, p34, m34, s5)
}

/// F(4x4, 3x3) on 6x6 tiles. A^T (4 x 6):
///   [1 1 1 1 1 0], [0 1 -1 2 -2 0], [0 1 1 4 4 0], [0 1 -1 8 -8 1]
enum WinogradF43: WinogradSixTiles {
    static var m: Int { 4 }
    @inline(__always)
    static func output(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        storeFour(outputFour(loadVector(s), loadVector(s + ss), loadVector(s + 2 * ss),
                             loadVector(s + 3 * ss), loadVector(s + 4 * ss), loadVector(s + 5 * ss)), d, ds)
    }
    @inline(__always)
    static func gradient(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        storeSix(gradientSix(loadVector(s), loadVector(s + ss), loadVector(s + 2 * ss), loadVector(s + 3 * ss)), d, ds)
    }
}

/// A^T s of F(4, 3) (six vectors to four).
@inline(__always)
func outputFour(_ s0: WinogradVector, _ s1: WinogradVector, _ s2: WinogradVector,
                _ s3: WinogradVector, _ s4: WinogradVector, _ s5: WinogradVector) -> WinogradFour {
    let p12 = s1 + s2, m12 = s1 - s2, p34 = s3 + s4, m34 = s3 - s4
    return (s0 + p12 + p34, m12.addingProduct(2, m34), p12.addingProduct(4, p34), (m12 + s5).addingProduct(8, m34))
}

/// A q of F(4, 3) (four vectors to six).
@inline(__always)
func gradientSix(_ q0: WinogradVector, _ q1: WinogradVector, _ q2: WinogradVector, _ q3: WinogradVector) -> WinogradSix {
    let p02 = q0 + q2, p13 = q1 + q3, e = q0.addingProduct(4, q2), o = (2 * q1).addingProduct(8, q3)
    return (q0, p02 + p13, p02 - p13, e + o, e - o, q3)
}

/// F(2x2, 5x5) on 6x6 tiles. A^T (2 x 6): [1 1 1 1 1 0], [0 1 -1 2 -2 1]
enum WinogradF25: WinogradSixTiles {
    static var m: Int { 2 }
    @inline(__always)
    static func output(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let t = outputSums(s, ss)
        storeVector(t.sum, d)
        storeVector((t.m12 + t.s5).addingProduct(2, t.m34), d + ds)
    }
    @inline(__always)
    static func gradient(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let q0 = loadVector(s), q1 = loadVector(s + ss)
        storeVector(q0, d); storeVector(q0 + q1, d + ds); storeVector(q0 - q1, d + 2 * ds)
        storeVector(q0.addingProduct(2, q1), d + 3 * ds); storeVector(q0.addingProduct(-2, q1), d + 4 * ds)
        storeVector(q1, d + 5 * ds)
    }
}

/// F(4x4, 5x5) on 8x8 tiles, points 0, 1, -1, 2, -2, 1/2, -1/2, infinity:
/// 64 products per 16 outputs instead of F(2x2, 5x5)'s 36 per 4 (2.25x
/// fewer). Rows of B^T (8 x 8), in pairs for the points +-p (even part e,
/// odd part o: e + o and e - o):
///   [-1 0 21/4 0 -21/4 0 1 0]                  [0 -1 0 21/4 0 -21/4 0 1]
///   [0 +-1 1 -+17/4 -17/4 +-1 1 0]
///   [0 +-1/2 1/4 -+5/2 -5/4 +-2 1 0]
///   [0 +-2 4 -+5/2 -5 +-1/2 1 0]
/// A^T (4 x 8): [1 1 1 1 1 1 1 0], [0 1 -1 2 -2 1/2 -1/2 0],
///              [0 1 1 4 4 1/4 1/4 0], [0 1 -1 8 -8 1/8 -1/8 1]
enum WinogradF45: WinogradTiles {
    static var alpha: Int { 8 }
    static var m: Int { 4 }
    @inline(__always)
    static func input(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let d0 = loadVector(s), d1 = loadVector(s + ss), d2 = loadVector(s + 2 * ss), d3 = loadVector(s + 3 * ss)
        let d4 = loadVector(s + 4 * ss), d5 = loadVector(s + 5 * ss), d6 = loadVector(s + 6 * ss), d7 = loadVector(s + 7 * ss)
        storeVector((d6 - d0).addingProduct(5.25, d2 - d4), d)
        let e1 = (d2 + d6).addingProduct(-4.25, d4), o1 = (d1 + d5).addingProduct(-4.25, d3)
        storeVector(e1 + o1, d + ds); storeVector(e1 - o1, d + 2 * ds)
        let e3 = d6.addingProduct(0.25, d2).addingProduct(-1.25, d4), o3 = (0.5 * d1).addingProduct(-2.5, d3).addingProduct(2, d5)
        storeVector(e3 + o3, d + 3 * ds); storeVector(e3 - o3, d + 4 * ds)
        let e5 = d6.addingProduct(4, d2).addingProduct(-5, d4), o5 = (2 * d1).addingProduct(-2.5, d3).addingProduct(0.5, d5)
        storeVector(e5 + o5, d + 5 * ds); storeVector(e5 - o5, d + 6 * ds)
        storeVector((d7 - d1).addingProduct(5.25, d3 - d5), d + 7 * ds)
    }
    @inline(__always)
    static func output(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let s0 = loadVector(s), s1 = loadVector(s + ss), s2 = loadVector(s + 2 * ss), s3 = loadVector(s + 3 * ss)
        let s4 = loadVector(s + 4 * ss), s5 = loadVector(s + 5 * ss), s6 = loadVector(s + 6 * ss), s7 = loadVector(s + 7 * ss)
        let p12 = s1 + s2, m12 = s1 - s2, p34 = s3 + s4, m34 = s3 - s4, p56 = s5 + s6, m56 = s5 - s6
        storeVector(s0 + p12 + p34 + p56, d)
        storeVector(m12.addingProduct(2, m34).addingProduct(0.5, m56), d + ds)
        storeVector(p12.addingProduct(4, p34).addingProduct(0.25, p56), d + 2 * ds)
        storeVector((m12 + s7).addingProduct(8, m34).addingProduct(0.125, m56), d + 3 * ds)
    }
    @inline(__always)
    static func gradient(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
        let q0 = loadVector(s), q1 = loadVector(s + ss), q2 = loadVector(s + 2 * ss), q3 = loadVector(s + 3 * ss)
        storeVector(q0, d)
        let e1 = q0 + q2, o1 = q1 + q3
        storeVector(e1 + o1, d + ds); storeVector(e1 - o1, d + 2 * ds)
        let e3 = q0.addingProduct(4, q2), o3 = (2 * q1).addingProduct(8, q3)
        storeVector(e3 + o3, d + 3 * ds); storeVector(e3 - o3, d + 4 * ds)
        let e5 = q0.addingProduct(0.25, q2), o5 = (0.5 * q1).addingProduct(0.125, q3)
        storeVector(e5 + o5, d + 5 * ds); storeVector(e5 - o5, d + 6 * ds)
        storeVector(q3, d + 7 * ds)
    }
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
