// Stride-1 convolutions by Winograd's minimal filtering (Lavin & Gray 2016):
// F(4x4, 3x3) for 3x3 kernels on 6x6 tiles; for 5x5, F(4x4, 5x5) on 8x8
// tiles or F(2x2, 5x5) on 6x6, whichever computes fewer tile elements for
// the output (`defaultTile`; F(2x2) only wins on outputs 1-2 pixels wide).
//
// The output is cut into m x m tiles. For tile d (the alpha x alpha input
// patch it reads, alpha = m + r - 1) and one (output, input) channel pair
// with kernel g (r x r):
//
//   y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
//
// so the r*r*m*m multiply-adds of the direct tile become alpha^2 products,
// summed over input channels: for each of the alpha^2 tile elements e, one
// GEMM
//
//   M[e][tile, o] = sum_c V[e][tile, c] * U[e][c, o]
//
// with V = B^T d B (the transformed input) and U = G g G^T (the transformed
// weights). 3x3: 36 products per 16 outputs instead of 144 (4x fewer);
// 5x5: 64 per 16 instead of 400 (6.25x; F(2x2): 36 per 4, 2.8x). The
// transforms are vectors of 16 channels (channels-last within a block of
// images), so channel counts must be multiples of 16 (`supports`).
//
// Backward, with the same machinery:
// - the input gradient is this convolution of dY with the weights
//   transposed to [C, O] and rotated 180 degrees, padded by r - 1 - pad
//   (`inputGradient`, `transformWeights(transposed: true)`);
// - the weight gradient: dU[e][o, c] = sum_tiles (A dY A^T)[e][tile, o] *
//   V[e][tile, c] (alpha^2 GEMMs reducing over tiles), then dW = G^T dU G.
//
// Matrices, for the interpolation points 0, 1, -1, 2, -2 (and 1/2, -1/2 on
// 8x8 tiles) and infinity: B^T (alpha x alpha) and A^T (m x alpha) are
// written out in the 1-D transforms (WinogradTransforms.swift); G (alpha x
// r) is derived: G[j][k] = p_j^k / prod_{l != j} (p_j - p_l), and its last
// row picks the leading coefficient (`kernelRows`).
//
// Work is done a block of `images` images at a time so that V and M (alpha^2
// tiles' worth each) stay in L2: copy the block's input into zero-bordered
// channels-last planes, transform, alpha^2 GEMMs, inverse transform into a
// channels-last output, copy out to NCHW. Units are floats; the caller owns
// every buffer (sizes below) and zeroes the padded planes before a pass:
// their borders are never written (the output gradient's tile overhang is zeroed on each
// copy, since the forward pass's tiles share that buffer).
//
// Accuracy: the transforms' coefficients reach 5 (B^T) and 8 (A^T) on 6x6
// tiles, so the rounding error is about 10x that of the direct sum (tests
// allow 3e-4 of max(1, |value|) against a Double reference; measured worst
// 1.2e-4); on 8x8 tiles (21/4 in B^T, 8 in A^T, 32/45 in G) about 3x that
// again (tests allow 6e-4; measured worst 3.1e-4 at 64 channels).

/// The channels-last, zero-bordered input planes of a Winograd forward
/// pass: per image `paddedH x paddedW x channels` floats, pixel (iy, ix) of
/// the `height x width` image at row iy + pad, column ix + pad. A
/// convolution whose output only that pass reads may store it so
/// (`WinogradConvolution.storePlanes`); the pass then reads it in place
/// (`forward(prepadded: true)`) instead of copying and transposing NCHW.
public struct WinogradPlanes: Sendable, Hashable {
    public let channels: Int, height: Int, width: Int, pad: Int, paddedH: Int, paddedW: Int
    public var imageFloats: Int { paddedH * paddedW * channels }
}

/// Geometry, blocking and transform matrices of one Winograd convolution.
public struct WinogradConvolution: Sendable, Hashable {
    public let channels: Int, outputs: Int
    public let height: Int, width: Int
    /// Kernel edge r (3 or 5), padding (both axes), output tile edge m (4,
    /// or 2 for 5x5 kernels on 6x6 tiles).
    public let kernel: Int, pad: Int, tile: Int
    /// The input tile's edge m + r - 1 (6 or 8) and its element count.
    public let alpha: Int, elements: Int
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
    public var transformedInputCount: Int { elements * inputElementStride }
    public var productCount: Int { elements * productElementStride }
    /// Channels-last output tiles (also the output gradient's, zero past the image).
    public var tiledOutputCount: Int { images * tilesH * tile * tilesW * tile * outputs }
    public var transformedWeightCount: Int { elements * channels * outputs }
    /// Floats in `WinogradBuffers.scratch`: one 8x8 tile's vectors of 16
    /// and 8 more (the gradient transform's row).
    public static let scratchCount = (64 + 8) * 16
    /// `kernelTransform(rotated: false)` and `(rotated: true)`.
    let kernelMatrix: [Float], rotatedKernelMatrix: [Float]

    /// Stride 1, square 3x3 or 5x5 kernels, channels and outputs multiples of 16.
    public static func supports(channels: Int, outputs: Int, kernelH: Int, kernelW: Int,
                                strideH: Int, strideW: Int, padH: Int, padW: Int) -> Bool {
        kernelH == kernelW && (kernelH == 3 || kernelH == 5) && strideH == 1 && strideW == 1 && padH == padW
            && padH < kernelH && channels % 16 == 0 && outputs % 16 == 0 && channels > 0 && outputs > 0
    }

    /// `tile`: the output tile's edge (4 for 3x3; 4 or 2 for 5x5); nil:
    /// `defaultTile`.
    public init(channels: Int, outputs: Int, height: Int, width: Int, kernel: Int, pad: Int, images: Int = 1,
                tile: Int? = nil) {
        precondition(Self.supports(channels: channels, outputs: outputs, kernelH: kernel, kernelW: kernel,
                                   strideH: 1, strideW: 1, padH: pad, padW: pad))
        self.channels = channels; self.outputs = outputs
        self.height = height; self.width = width
        self.kernel = kernel; self.pad = pad
        outH = height + 2 * pad - kernel + 1; outW = width + 2 * pad - kernel + 1
        let m = tile ?? Self.defaultTile(kernel: kernel, outH: outH, outW: outW)
        precondition(m == 4 || (m == 2 && kernel == 5))
        self.tile = m; alpha = m + kernel - 1; elements = alpha * alpha
        precondition(outH >= 1 && outW >= 1)
        tilesH = (outH + m - 1) / m; tilesW = (outW + m - 1) / m
        self.images = max(1, images)
        kernelMatrix = Self.kernelTransform(kernel: kernel, alpha: alpha, rotated: false)
        rotatedKernelMatrix = Self.kernelTransform(kernel: kernel, alpha: alpha, rotated: true)
    }

    /// The same convolution with `images` per block.
    public func inBlocks(of images: Int) -> WinogradConvolution {
        WinogradConvolution(channels: channels, outputs: outputs, height: height, width: width,
                            kernel: kernel, pad: pad, images: images, tile: tile)
    }

    /// The output tile edge with the fewest tile elements over an outH x
    /// outW output (ties to 6x6 tiles, whose rounding error is smaller):
    /// 4 for 3x3; for 5x5, 4 (8x8 tiles) unless the output is 1-2 pixels
    /// high or wide.
    public static func defaultTile(kernel: Int, outH: Int, outW: Int) -> Int {
        guard kernel == 5 else { return 4 }
        func work(_ m: Int) -> Int { ((outH + m - 1) / m) * ((outW + m - 1) / m) * (m + 4) * (m + 4) }
        return work(4) < work(2) ? 4 : 2
    }

    /// The input gradient as a convolution: dY (outputs channels, outH x
    /// outW) to dX (channels), padded by r - 1 - pad; its weights come from
    /// `transformWeights(_:transposed: true)`.
    public var inputGradient: WinogradConvolution {
        WinogradConvolution(channels: outputs, outputs: channels, height: outH, width: outW,
                            kernel: kernel, pad: kernel - 1 - pad, images: images)
    }

    /// Images per block so that V and M together stay within `budget` floats
    /// (half of a 1 MB L2), but at least `minimumTiles` tiles per block: each
    /// of the alpha^2 GEMMs loads its U[e] (channels x outputs) for the
    /// block's rows, and with fewer than three 8-row micro-panels that load
    /// dominates. Measured on W2's conv2 (9 tiles per image on 8x8 tiles):
    /// 3 images per block train 1.23x and infer 1.14x faster than 1 (V and M
    /// then 884 KB); W3's 3x3 layers (16+ tiles per image) were slower with
    /// a budget 4x larger.
    public static func blockImages(channels: Int, outputs: Int, height: Int, width: Int, kernel: Int, pad: Int,
                                   maxBatch: Int, budget: Int = 1 << 17, minimumTiles: Int = 24) -> Int {
        let plan = WinogradConvolution(channels: channels, outputs: outputs, height: height, width: width,
                                       kernel: kernel, pad: pad)
        let perImage = plan.elements * plan.tilesPerImage * (channels + outputs)
        let fewest = (minimumTiles + plan.tilesPerImage - 1) / plan.tilesPerImage
        return max(1, min(maxBatch, max(budget / perImage, fewest)))
    }

    /// G (alpha x r, row-major) for the points 0, 1, -1, 2, -2 (and 1/2,
    /// -1/2 when alpha is 8), infinity: the order of B^T's rows.
    static func kernelRows(kernel r: Int, alpha: Int) -> [Double] {
        let points: [Double] = Array([0, 1, -1, 2, -2, 0.5, -0.5].prefix(alpha - 1)), n = alpha - 1
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

    /// `(G ⊗ G)`: `[alpha^2, r*r]`, row x*alpha + y, column i*r + j =
    /// G[x][i] * G[y][j], so that vec(G g G^T) = (G ⊗ G) vec(g); `rotated`:
    /// columns reversed (the kernel turned 180 degrees).
    static func kernelTransform(kernel r: Int, alpha a: Int, rotated: Bool) -> [Float] {
        let rr = r * r, g = kernelRows(kernel: r, alpha: a)
        var t = [Float](repeating: 0, count: a * a * rr)
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
    /// `[alpha^2, r*r] x [r*r, pairs]`; without `transposed` the kernels are first
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
            sgemm(transA: false, transB: true, m: elements, n: pairs, k: rr, alpha: 1, a: tb.baseAddress!, lda: rr,
                  b: kernels, ldb: rr, beta: 0, c: u, ldc: pairs, workspace: workspace)
        }
    }

    /// `dW[o][c] += G^T dU[o][c] G` for every pair, from `du[e][o][c]` (the
    /// weight gradient GEMMs' output), into OIHW `dw`: one GEMM
    /// `[pairs, alpha^2] x [alpha^2, r*r]` (the transpose of `transformWeights`' map).
    public func addWeightGradient(_ du: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>, workspace: GEMMWorkspace) {
        let rr = kernel * kernel, pairs = channels * outputs
        kernelMatrix.withUnsafeBufferPointer { tb in
            sgemm(transA: true, transB: false, m: pairs, n: rr, k: elements, alpha: 1, a: du, lda: pairs,
                  b: tb.baseAddress!, ldb: rr, beta: 1, c: dw, ldc: rr, workspace: workspace)
        }
    }
}
