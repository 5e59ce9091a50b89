// Stride-1 convolutions by Winograd's minimal filtering (Lavin & Gray 2016):
// F(4x4, 3x3) for 3x3 kernels and F(2x2, 5x5) for 5x5, both on 6x6 tiles.
//
// The output is cut into m x m tiles (m = 4 or 2). For tile d (the 6x6 input
// patch it reads) and one (output, input) channel pair with kernel g (r x r):
//
//   y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
//
// so the r*r*m*m multiply-adds of the direct tile become 36 products, summed
// over input channels: for each of the 36 tile elements e, one GEMM
//
//   M[e][tile, o] = sum_c V[e][tile, c] * U[e][c, o]
//
// with V = B^T d B (the transformed input) and U = G g G^T (the transformed
// weights). 3x3: 36 products per 16 outputs instead of 144 (4x fewer);
// 5x5: 36 per 4 instead of 100 (2.8x). The transforms are vectors of 16
// channels (channels-last within a block of images), so channel counts must
// be multiples of 16 (`supports`).
//
// Backward, with the same machinery:
// - the input gradient is this convolution of dY with the weights
//   transposed to [C, O] and rotated 180 degrees, padded by r - 1 - pad
//   (`inputGradient`, `transformWeights(transposed: true)`);
// - the weight gradient: dU[e][o, c] = sum_tiles (A dY A^T)[e][tile, o] *
//   V[e][tile, c] (36 GEMMs reducing over tiles), then dW = G^T dU G.
//
// Matrices, for the interpolation points 0, 1, -1, 2, -2 and infinity
// (Lavin's): B^T (6x6, the same for both kernels) and A^T (m x 6) are
// written out in the 1-D transforms below; G (6 x r) is derived: G[j][k] =
// p_j^k / prod_{l != j} (p_j - p_l), and its last row picks the leading
// coefficient (`kernelRows`).
//
// Work is done a block of `images` images at a time so that V and M (36
// tiles' worth each) stay in L2: copy the block's input into zero-bordered
// channels-last planes, transform, 36 GEMMs, inverse transform into a
// channels-last output, copy out to NCHW. Units are floats; the caller owns
// every buffer (sizes below), zero-filled once: the padded planes' borders
// are never written (the output gradient's tile overhang is zeroed on each
// copy, since the forward pass's tiles share that buffer).
//
// Accuracy: the transforms' coefficients reach 5 (B^T) and 8 (A^T), so the
// rounding error is about 10x that of the direct sum (tests allow 3e-4 of
// max(1, |value|) against a Double reference; measured worst 1.2e-4).

/// Geometry, blocking and transform matrices of one Winograd convolution.
public struct WinogradConvolution: Sendable, Hashable {
    /// The tile edge (6 = m + r - 1) and its element count.
    public static let alpha = 6
    public static let elements = 36
    public let channels: Int, outputs: Int
    public let height: Int, width: Int
    /// Kernel edge r (3 or 5), padding (both axes), output tile edge m = 7 - r.
    public let kernel: Int, pad: Int, tile: Int
    public let outH: Int, outW: Int
    public let tilesH: Int, tilesW: Int
    /// Images per block (the caller's buffers hold one block).
    public let images: Int
    /// Channels-last padded input planes: `paddedH x paddedW x channels`,
    /// pixel (iy, ix) at row iy + pad, column ix + pad.
    public var paddedH: Int { tilesH * tile + kernel - 1 }
    public var paddedW: Int { tilesW * tile + kernel - 1 }
    public var tilesPerImage: Int { tilesH * tilesW }
    /// GEMM rows per block: its tiles rounded up to 8 (whole micro-tiles of V;
    /// the rows past the block's tiles are computed and dropped).
    public var rowsPerBlock: Int { (images * tilesPerImage + 7) / 8 * 8 }
    /// Floats of each caller buffer.
    public var paddedCount: Int { images * paddedH * paddedW * channels }
    /// Floats between consecutive tile elements e of V (`[e][tile][channel]`)
    /// and of M and the packed dY (`[e][tile][output]`): one cache line more
    /// than the data, so that the 36 elements of one tile, written or read
    /// together, do not fall into one L1 set when the data is a multiple of
    /// 4 KB (64 tiles x 16 channels, measured: 2x slower transforms).
    public var inputElementStride: Int { rowsPerBlock * channels + 16 }
    public var productElementStride: Int { rowsPerBlock * outputs + 16 }
    public var transformedInputCount: Int { Self.elements * inputElementStride }
    public var productCount: Int { Self.elements * productElementStride }
    /// Channels-last output tiles (also the output gradient's, zero past the image).
    public var tiledOutputCount: Int { images * tilesH * tile * tilesW * tile * outputs }
    public var transformedWeightCount: Int { Self.elements * channels * outputs }
    /// Vectors of 16 floats in `WinogradBuffers.scratch`, and its floats.
    static let scratchVectors = 36
    public static let scratchCount = scratchVectors * 16
    /// `kernelTransform(rotated: false)` and `(rotated: true)`.
    let kernelMatrix: [Float], rotatedKernelMatrix: [Float]

    /// Stride 1, square 3x3 or 5x5 kernels, channels and outputs multiples of 16.
    public static func supports(channels: Int, outputs: Int, kernelH: Int, kernelW: Int,
                                strideH: Int, strideW: Int, padH: Int, padW: Int) -> Bool {
        kernelH == kernelW && (kernelH == 3 || kernelH == 5) && strideH == 1 && strideW == 1 && padH == padW
            && padH < kernelH && channels % 16 == 0 && outputs % 16 == 0 && channels > 0 && outputs > 0
    }

    public init(channels: Int, outputs: Int, height: Int, width: Int, kernel: Int, pad: Int, images: Int = 1) {
        precondition(Self.supports(channels: channels, outputs: outputs, kernelH: kernel, kernelW: kernel,
                                   strideH: 1, strideW: 1, padH: pad, padW: pad))
        self.channels = channels; self.outputs = outputs
        self.height = height; self.width = width
        self.kernel = kernel; self.pad = pad; tile = Self.alpha + 1 - kernel
        outH = height + 2 * pad - kernel + 1; outW = width + 2 * pad - kernel + 1
        precondition(outH >= 1 && outW >= 1)
        tilesH = (outH + tile - 1) / tile; tilesW = (outW + tile - 1) / tile
        self.images = max(1, images)
        kernelMatrix = Self.kernelTransform(kernel: kernel, rotated: false)
        rotatedKernelMatrix = Self.kernelTransform(kernel: kernel, rotated: true)
    }

    /// The same convolution with `images` per block.
    public func inBlocks(of images: Int) -> WinogradConvolution {
        WinogradConvolution(channels: channels, outputs: outputs, height: height, width: width,
                            kernel: kernel, pad: pad, images: images)
    }

    /// The input gradient as a convolution: dY (outputs channels, outH x
    /// outW) to dX (channels), padded by r - 1 - pad; its weights come from
    /// `transformWeights(_:transposed: true)`.
    public var inputGradient: WinogradConvolution {
        WinogradConvolution(channels: outputs, outputs: channels, height: outH, width: outW,
                            kernel: kernel, pad: kernel - 1 - pad, images: images)
    }

    /// Images per block so that V and M together stay within `budget` floats.
    public static func blockImages(channels: Int, outputs: Int, height: Int, width: Int, kernel: Int, pad: Int,
                                   maxBatch: Int, budget: Int = 1 << 17) -> Int {
        let plan = WinogradConvolution(channels: channels, outputs: outputs, height: height, width: width,
                                       kernel: kernel, pad: pad)
        let perImage = elements * plan.tilesPerImage * (channels + outputs)
        return max(1, min(maxBatch, budget / perImage))
    }

    /// G (6 x r, row-major) for the points 0, 1, -1, 2, -2, infinity.
    static func kernelRows(kernel r: Int) -> [Double] {
        let points: [Double] = [0, 1, -1, 2, -2], n = alpha - 1
        var g = [Double](repeating: 0, count: alpha * r)
        for j in 0..<n {
            let s = (0..<n).filter { $0 != j }.reduce(1.0) { $0 * (points[j] - points[$1]) }
            var power = 1.0
            for k in 0..<r { g[j * r + k] = power / s; power *= points[j] }
        }
        g[n * r + r - 1] = 1
        return g
    }

    // MARK: weights

    /// `(G ⊗ G)`: `[36, r*r]`, row x*6 + y, column i*r + j = G[x][i] * G[y][j],
    /// so that vec(G g G^T) = (G ⊗ G) vec(g); `rotated`: columns reversed
    /// (the kernel turned 180 degrees).
    static func kernelTransform(kernel r: Int, rotated: Bool) -> [Float] {
        let a = alpha, rr = r * r, g = kernelRows(kernel: r)
        var t = [Float](repeating: 0, count: elements * rr)
        for x in 0..<a { for y in 0..<a { for i in 0..<r { for j in 0..<r {
            t[(x * a + y) * rr + (rotated ? rr - 1 - (i * r + j) : i * r + j)] = Float(g[x * r + i] * g[y * r + j])
        } } } }
        return t
    }

    /// Floats of scratch `transformWeights` needs (without `transposed`).
    public var weightScratchCount: Int { kernel * kernel * channels * outputs }

    /// `u[e][c][o]` = (G g G^T)[e] for every kernel g of the plan's
    /// [outputs][channels]: `w[o][c]` of an OIHW tensor, or with `transposed`
    /// (the input gradient's plan) `w[c][o]` rotated 180 degrees. One GEMM
    /// `[36, r*r] x [r*r, pairs]`; without `transposed` the kernels are first
    /// copied into `scratch` (`weightScratchCount`) in [c][o] order.
    public func transformWeights(_ w: UnsafePointer<Float>, transposed: Bool, scratch: UnsafeMutablePointer<Float>,
                                 into u: UnsafeMutablePointer<Float>, workspace: GEMMWorkspace) {
        let rr = kernel * kernel, pairs = channels * outputs
        var kernels = w
        if !transposed {
            for o in 0..<outputs {
                for c in 0..<channels { (scratch + (c * outputs + o) * rr).update(from: w + (o * channels + c) * rr, count: rr) }
            }
            kernels = UnsafePointer(scratch)
        }
        let t = transposed ? rotatedKernelMatrix : kernelMatrix
        t.withUnsafeBufferPointer { tb in
            sgemm(transA: false, transB: true, m: Self.elements, n: pairs, k: rr, alpha: 1, a: tb.baseAddress!, lda: rr,
                  b: kernels, ldb: rr, beta: 0, c: u, ldc: pairs, workspace: workspace)
        }
    }

    /// `dW[o][c] += G^T dU[o][c] G` for every pair, from `du[e][o][c]` (the
    /// weight gradient GEMMs' output), into OIHW `dw`: one GEMM
    /// `[pairs, 36] x [36, r*r]` (the transpose of `transformWeights`' map).
    public func addWeightGradient(_ du: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>, workspace: GEMMWorkspace) {
        let rr = kernel * kernel, pairs = channels * outputs
        kernelMatrix.withUnsafeBufferPointer { tb in
            sgemm(transA: true, transB: false, m: pairs, n: rr, k: Self.elements, alpha: 1, a: du, lda: pairs,
                  b: tb.baseAddress!, ldb: rr, beta: 1, c: dw, ldc: rr, workspace: workspace)
        }
    }
}

/// 16 channels of one pixel or tile element.
typealias WinogradVector = SIMD16<Float>

@inline(__always)
private func loadVector(_ p: UnsafePointer<Float>) -> WinogradVector {
    UnsafeRawPointer(p).loadUnaligned(as: WinogradVector.self)
}

@inline(__always)
private func storeVector(_ v: WinogradVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: WinogradVector.self)
}

/// Six vectors: one row or column of a 6x6 tile.
typealias WinogradSix = (WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector)

/// B^T d for one column of six:
///   [4  0 -5  0 1 0]   [0 -4 -4  1 1 0]   [0 4 -4 -1 1 0]
///   [0 -2 -1  2 1 0]   [0  2 -1 -2 1 0]   [0 4  0 -5 0 1]
@inline(__always)
private func inputTransform(_ d: WinogradSix) -> WinogradSix {
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
private func outputTransform(_ s: WinogradSix, four: Bool) -> (WinogradVector, WinogradVector, WinogradVector, WinogradVector) {
    let p12 = s.1 + s.2, m12 = s.1 - s.2, p34 = s.3 + s.4, m34 = s.3 - s.4
    if four {
        return (s.0 + p12 + p34, m12.addingProduct(2, m34), p12.addingProduct(4, p34), (m12 + s.5).addingProduct(8, m34))
    }
    return (s.0 + p12 + p34, (m12 + s.5).addingProduct(2, m34), WinogradVector(), WinogradVector())
}

/// A q for m = 4 or 2 values q (the transpose of `outputTransform`).
@inline(__always)
private func gradientTransform(_ q: (WinogradVector, WinogradVector, WinogradVector, WinogradVector), four: Bool) -> WinogradSix {
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
private func copyChannelsLast(_ src: UnsafePointer<Float>, channels c: Int, height: Int, width: Int,
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

extension WinogradConvolution {
    /// `y_n (+)= conv(x_n)` for `batch` NCHW images (`sampleStride` and
    /// `outSampleStride` floats apart), with `u` from `transformWeights`.
    public func forward(_ x: UnsafePointer<Float>, sampleStride: Int, batch: Int, weights u: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outSampleStride: Int, accumulate: Bool,
                        buffers b: WinogradBuffers) {
        var first = 0
        while first < batch {
            let count = min(images, batch - first)
            loadPlanes(x + first * sampleStride, sampleStride: sampleStride, count: count, into: b.padded)
            transformInput(b.padded, count: count, into: b.transformed, scratch: b.scratch)
            multiply(b.transformed, u, tiles: count * tilesPerImage, into: b.products)
            transformOutput(b.products, count: count, into: b.tiled, scratch: b.scratch)
            storeOutput(b.tiled, count: count, into: y + first * outSampleStride, sampleStride: outSampleStride,
                        accumulate: accumulate)
            first += count
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
    func transformInput(_ padded: UnsafePointer<Float>, count: Int, into v: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>) {
        let a = Self.alpha, c = channels, rowStride = paddedW * c, eStride = inputElementStride
        scratch.withMemoryRebound(to: WinogradVector.self, capacity: Self.scratchVectors) { tmp in
            forEachTile(count: count) { t, n, th, tw in
                let base = padded + ((n * paddedH + th * tile) * paddedW + tw * tile) * c
                for cb in stride(from: 0, to: c, by: 16) {
                    // Columns: tmp[k][j] = (B^T d[., j])[k].
                    for j in 0..<a {
                        let p = base + j * c + cb
                        let r = inputTransform((loadVector(p), loadVector(p + rowStride), loadVector(p + 2 * rowStride),
                                                loadVector(p + 3 * rowStride), loadVector(p + 4 * rowStride),
                                                loadVector(p + 5 * rowStride)))
                        tmp[j] = r.0; tmp[a + j] = r.1; tmp[2 * a + j] = r.2
                        tmp[3 * a + j] = r.3; tmp[4 * a + j] = r.4; tmp[5 * a + j] = r.5
                    }
                    // Rows: v[k][l] = (B^T tmp[k, .])[l].
                    for k in 0..<a {
                        let q = tmp + k * a
                        let r = inputTransform((q[0], q[1], q[2], q[3], q[4], q[5]))
                        let out = v + k * a * eStride + t * c + cb
                        storeVector(r.0, out); storeVector(r.1, out + eStride); storeVector(r.2, out + 2 * eStride)
                        storeVector(r.3, out + 3 * eStride); storeVector(r.4, out + 4 * eStride)
                        storeVector(r.5, out + 5 * eStride)
                    }
                }
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
        for e in 0..<Self.elements {
            let ve = v + e * inputElementStride, ue = u + e * c * o, me = m + e * productElementStride
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
        let a = Self.alpha, o = outputs, edge = tile, four = tile == 4, tiledW = tilesW * tile
        let eStride = productElementStride
        scratch.withMemoryRebound(to: WinogradVector.self, capacity: Self.scratchVectors) { tmp in
            forEachTile(count: count) { t, n, th, tw in
                let base = tiled + ((n * tilesH + th) * tile * tiledW + tw * tile) * o
                for ob in stride(from: 0, to: o, by: 16) {
                    // Columns: tmp[i][b] = (A^T M[., b])[i].
                    for b in 0..<a {
                        let p = m + b * eStride + t * o + ob, col = a * eStride
                        let r = outputTransform((loadVector(p), loadVector(p + col), loadVector(p + 2 * col),
                                                 loadVector(p + 3 * col), loadVector(p + 4 * col),
                                                 loadVector(p + 5 * col)), four: four)
                        tmp[b] = r.0; tmp[a + b] = r.1
                        if four { tmp[2 * a + b] = r.2; tmp[3 * a + b] = r.3 }
                    }
                    // Rows: y[i][j] = (A^T tmp[i, .])[j].
                    for i in 0..<edge {
                        let q = tmp + i * a, out = base + i * tiledW * o + ob
                        let r = outputTransform((q[0], q[1], q[2], q[3], q[4], q[5]), four: four)
                        storeVector(r.0, out); storeVector(r.1, out + o)
                        if four { storeVector(r.2, out + 2 * o); storeVector(r.3, out + 3 * o) }
                    }
                }
            }
        }
    }

    /// The valid pixels of the channels-last tiles into NCHW images (added
    /// with `accumulate`): 16 pixels x 16 channels at a time, as `loadPlanes`.
    func storeOutput(_ tiled: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, sampleStride: Int,
                     accumulate: Bool) {
        let o = outputs, tiledW = tilesW * tile, plane = outH * outW, whole = plane / 16 * 16
        for n in 0..<count {
            let dst = y + n * sampleStride, src = tiled + n * tilesH * tile * tiledW * o
            for ob in stride(from: 0, to: o, by: 16) {
                var source = PixelWalk(width: outW, rowPitch: tiledW * o, pixelPitch: o)
                var p = 0
                while p < whole {
                    var block = Block16x16 { _ in loadVector(src + source.next() + ob) }
                    block.transpose()
                    block.forEachRow { k, v in
                        let d = dst + (ob + k) * plane + p
                        storeVector(accumulate ? v + loadVector(d) : v, d)
                    }
                    p += 16
                }
                for q in whole..<plane {
                    let s = src + source.next() + ob
                    for k in 0..<16 {
                        if accumulate { dst[(ob + k) * plane + q] += s[k] } else { dst[(ob + k) * plane + q] = s[k] }
                    }
                }
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
    /// `[e][o / 8][t][8]` (8 output channels per k step).
    func transformGradient(_ tiled: UnsafePointer<Float>, count: Int, into packed: UnsafeMutablePointer<Float>,
                           scratch: UnsafeMutablePointer<Float>) {
        let a = Self.alpha, o = outputs, rows = rowsPerBlock, four = tile == 4, tiledW = tilesW * tile
        let eStride = productElementStride
        let zero = WinogradVector()
        scratch.withMemoryRebound(to: WinogradVector.self, capacity: Self.scratchVectors) { tmp in
            forEachTile(count: count) { t, n, th, tw in
                let base = tiled + ((n * tilesH + th) * tile * tiledW + tw * tile) * o
                for ob in stride(from: 0, to: o, by: 16) {
                    // Columns: tmp[x][j] = (A dy[., j])[x].
                    for j in 0..<tile {
                        let p = base + j * o + ob, row = tiledW * o
                        let r = gradientTransform((loadVector(p), loadVector(p + row),
                                                   four ? loadVector(p + 2 * row) : zero,
                                                   four ? loadVector(p + 3 * row) : zero), four: four)
                        tmp[j] = r.0; tmp[4 + j] = r.1; tmp[8 + j] = r.2
                        tmp[12 + j] = r.3; tmp[16 + j] = r.4; tmp[20 + j] = r.5
                    }
                    // Rows: z[x][y] = (A tmp[x, .])[y], stored as two 8-channel panels.
                    for x in 0..<a {
                        let q = tmp + 4 * x
                        let r = gradientTransform((q[0], q[1], four ? q[2] : zero, four ? q[3] : zero), four: four)
                        @inline(__always) func store(_ y: Int, _ z: WinogradVector) {
                            let panel = packed + (x * a + y) * eStride + ((ob / gemmMR) * rows + t) * gemmMR
                            UnsafeMutableRawPointer(panel).storeBytes(of: z.lowHalf, as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(panel + rows * gemmMR).storeBytes(of: z.highHalf, as: SIMD8<Float>.self)
                        }
                        store(0, r.0); store(1, r.1); store(2, r.2); store(3, r.3); store(4, r.4); store(5, r.5)
                    }
                }
            }
        }
    }

    /// `dU[e][o][c] += sum_t Z[e][t][o] * V[e][t][c]` over `tiles` tiles.
    func accumulateProducts(_ packed: UnsafePointer<Float>, _ v: UnsafePointer<Float>, tiles: Int,
                            into du: UnsafeMutablePointer<Float>) {
        let c = channels, o = outputs, rows = rowsPerBlock, panels = o / gemmMR
        for e in 0..<Self.elements {
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
