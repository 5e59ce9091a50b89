/// Depthwise convolutions (one input channel and one filter per group, as in
/// separable convolutions): every pass is a direct SIMD loop over each image's
/// channel planes (DepthwiseKernels.swift), any kernel, stride, padding and
/// dilation. GEMMs per group would be 1-row matrices.
///
/// The input planes go through a zero-padded copy whose columns are split by
/// phase (`xp % SW`: each phase's columns side by side, `phaseWidth` apart),
/// so that the taps of a strided output row read adjacent floats. Tap (i, j)
/// of output (oy, ox) reads padded pixel (oy * SH + i * DH, ox * SW + j * DW).
///
/// Workspace, in order (all zeroed where a pass reads padding; the borders
/// are zeroed once per pass, since the plane copies never write them):
/// - `padded`: one padded input plane (forward, weight gradient), or one
///   padded input-gradient plane (strided input gradients, zeroed per plane);
/// - `gradient`: one output-gradient plane with rows `depthwiseVectorWidth(OW)`
///   wide, zero past OW (weight gradient, strided input gradient);
/// - `framed`: one output-gradient plane framed by zeros wide enough that the
///   stride-1 input gradient is a correlation with the flipped filter.
public struct DepthwiseAlgorithm: ConvolutionAlgorithm {
    public static let name = "depthwise"
    let shape: ConvolutionShape
    /// Floats of one phase of a padded row, of a padded row (SW phases), of a `gradient` row.
    let phaseWidth: Int, paddedRow: Int, gradientRow: Int
    /// Offset of tap (i, j) = t in the padded plane (forward order).
    let taps: [Int]
    /// The framed plane: its row length, where dy's pixel (0, 0) sits, and the
    /// offset of flipped tap t' for input pixel (0, 0).
    let framedRow: Int, framedOrigin: Int, framedTaps: [Int]
    /// Offsets and sizes of the workspace regions, in floats.
    let padded: Int, paddedCount: Int, gradient: Int, gradientCount: Int, framed: Int, framedCount: Int
    public let workspaceFloats: Int

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool {
        shape.geometry.channels == 1 && shape.outputs == 1
    }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        precondition(Self.supports(shape, .forward))
        self.shape = shape
        let g = shape.geometry
        let outWidth = depthwiseVectorWidth(g.outW)
        phaseWidth = max((g.width + 2 * g.padW + g.strideW - 1) / g.strideW, outWidth + (g.spanW - 1) / g.strideW)
        paddedRow = g.strideW * phaseWidth
        gradientRow = outWidth
        var taps: [Int] = []
        for i in 0..<g.kernelH {
            for j in 0..<g.kernelW {
                taps.append(i * g.dilationH * paddedRow + (j * g.dilationW) % g.strideW * phaseWidth + j * g.dilationW / g.strideW)
            }
        }
        self.taps = taps
        // Stride 1: dx[iy, ix] = sum of w[KH-1-i', KW-1-j'] * dy[iy + PH - span_H + 1 + i' DH, ...]; the frame
        // puts (top, left) zeros before dy so that the first row/column read is >= 0.
        let top = max(0, g.spanH - 1 - g.padH), left = max(0, g.spanW - 1 - g.padW)
        let rowBase = g.padH - g.spanH + 1 + top, columnBase = g.padW - g.spanW + 1 + left
        framedRow = max(left + g.outW, columnBase + depthwiseVectorWidth(g.width) + g.spanW - 1)
        framedOrigin = top * framedRow + left
        var framedTaps: [Int] = []
        for i in 0..<g.kernelH {
            for j in 0..<g.kernelW { framedTaps.append((rowBase + i * g.dilationH) * framedRow + columnBase + j * g.dilationW) }
        }
        self.framedTaps = framedTaps
        let framedRows = max(top + g.outH, rowBase + g.height + g.spanH - 1)
        var end = 0
        func region(_ count: Int) -> Int { defer { end += alignedFloats(count) }; return end }
        paddedCount = (g.height + 2 * g.padH) * paddedRow
        padded = region(paddedCount)
        gradientCount = g.outH * gradientRow
        gradient = region(gradientCount)
        framedCount = Self.stridesOne(g) ? framedRows * framedRow : 0
        framed = region(framedCount)
        workspaceFloats = end
    }

    /// Whether the input gradient is a correlation over the framed plane (else a scatter).
    static func stridesOne(_ g: WindowGeometry) -> Bool { g.strideH == 1 && g.strideW == 1 }

    /// Copies one `[H, W]` plane into the padded layout (`add`: adds the
    /// padded layout's interior into the plane instead; only then is `plane`
    /// written).
    func copyPadded(_ plane: UnsafeMutablePointer<Float>, _ paddedPlane: UnsafeMutablePointer<Float>, add: Bool) {
        let g = shape.geometry
        for iy in 0..<g.height {
            let row = paddedPlane + (iy + g.padH) * paddedRow, image = plane + iy * g.width
            for phase in 0..<g.strideW {
                // The first column of this phase: (ix + PW) % SW == phase.
                var ix = ((phase - g.padW) % g.strideW + g.strideW) % g.strideW
                var p = row + phase * phaseWidth + (ix + g.padW) / g.strideW
                while ix < g.width {
                    if add { image[ix] += p.pointee } else { p.pointee = image[ix] }
                    ix += g.strideW; p += 1
                }
            }
        }
    }

    /// Copies one output-gradient plane `[OH, OW]` to `dst`, its rows `rowStride` floats apart.
    func copyGradient(_ dy: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, rowStride: Int) {
        let g = shape.geometry
        for oy in 0..<g.outH { (dst + oy * rowStride).update(from: dy + oy * g.outW, count: g.outW) }
    }

    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, workspace: ConvolutionWorkspace) {
        let g = shape.geometry, kk = g.kernelH * g.kernelW, plane = workspace.floats + padded
        plane.initialize(repeating: 0, count: paddedCount)
        taps.withUnsafeBufferPointer { taps in
            for n in 0..<batch {
                for c in 0..<shape.groups {
                    copyPadded(UnsafeMutablePointer(mutating: x + n * inputStride + c * shape.inputPlane), plane, add: false)
                    depthwiseCorrelate(plane, rowStep: g.strideH * paddedRow, taps: taps, weights: weights + c * kk, weightStep: 1,
                                       into: y + n * outputStride + c * shape.outputPlane, rows: g.outH, cols: g.outW,
                                       outStride: g.outW, accumulate: false)
                }
            }
        }
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int,
                              workspace: ConvolutionWorkspace) {
        let g = shape.geometry, kk = g.kernelH * g.kernelW
        if Self.stridesOne(g) {
            let frame = workspace.floats + framed
            frame.initialize(repeating: 0, count: framedCount)
            framedTaps.withUnsafeBufferPointer { taps in
                for n in 0..<batch {
                    for c in 0..<shape.groups {
                        copyGradient(dy + n * outputStride + c * shape.outputPlane, into: frame + framedOrigin, rowStride: framedRow)
                        // The flipped filter: tap t' weighs w[KK - 1 - t'].
                        depthwiseCorrelate(frame, rowStep: framedRow, taps: taps, weights: weights + c * kk + kk - 1, weightStep: -1,
                                           into: dx + n * inputStride + c * shape.inputPlane, rows: g.height, cols: g.width,
                                           outStride: g.width, accumulate: true)
                    }
                }
            }
            return
        }
        let plane = workspace.floats + padded, rows = workspace.floats + gradient
        rows.initialize(repeating: 0, count: gradientCount)
        taps.withUnsafeBufferPointer { taps in
            for n in 0..<batch {
                for c in 0..<shape.groups {
                    plane.initialize(repeating: 0, count: paddedCount)
                    copyGradient(dy + n * outputStride + c * shape.outputPlane, into: rows, rowStride: gradientRow)
                    depthwiseScatter(rows, gStride: gradientRow, rows: g.outH, cols: g.outW, weights: weights + c * kk,
                                     taps: taps, into: plane, rowStep: g.strideH * paddedRow)
                    copyPadded(dx + n * inputStride + c * shape.inputPlane, plane, add: true)
                }
            }
        }
    }

    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        let g = shape.geometry, kk = g.kernelH * g.kernelW
        let plane = workspace.floats + padded, rows = workspace.floats + gradient
        plane.initialize(repeating: 0, count: paddedCount)
        rows.initialize(repeating: 0, count: gradientCount)
        taps.withUnsafeBufferPointer { taps in
            for n in 0..<batch {
                for c in 0..<shape.groups {
                    copyPadded(UnsafeMutablePointer(mutating: x + n * inputStride + c * shape.inputPlane), plane, add: false)
                    copyGradient(dy + n * outputStride + c * shape.outputPlane, into: rows, rowStride: gradientRow)
                    depthwiseTapSums(rows, gStride: gradientRow, rows: g.outH, cols: g.outW, plane,
                                     rowStep: g.strideH * paddedRow, taps: taps, into: dW + c * kk)
                }
            }
        }
    }
}
