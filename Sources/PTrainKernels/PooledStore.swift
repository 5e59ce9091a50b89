/// A convolution's outputs stored as their max pool (inference): the
/// convolution's forward pass pools each image's staged outputs (a tap
/// GEMM's strip, Winograd's channels-last tiles) while they are in cache
/// and writes only the pooled planes, so the full-size output is never
/// written and never read back (`Conv2D.foldedPool`; W2's conv1 stores 1/4
/// of its 24x24 planes).
///
/// The bias and relu go after the pooling: `relu(max(x) + b)` equals
/// `max(relu(x + b))` for finite values because rounding `x + b` and the
/// relu are both monotone (non-decreasing) in x, so the window's largest
/// input gives its largest output: the same numbers as the separate passes
/// (bias and relu, then `maxPoolValues`); only NaN propagation and the sign
/// of a zero may differ, as between `maxPoolValues` and `maxPoolForward`. Every window
/// must reach the image (padding < kernel, which the config checks): a
/// window of padding only would store relu(-inf + b) = 0, not -inf.
public struct PooledStore {
    /// The pool's geometry: its input is the convolution's output.
    public let geometry: WindowGeometry
    /// Floats between consecutive images' pooled outputs.
    public let outputStride: Int
    /// `maxPoolScratchCount(geometry)` floats.
    public let scratch: UnsafeMutablePointer<Float>

    public init(geometry: WindowGeometry, outputStride: Int, scratch: UnsafeMutablePointer<Float>) {
        self.geometry = geometry; self.outputStride = outputStride; self.scratch = scratch
    }

    /// Pools `channels` planes of one image, rows `rowPitch` and planes
    /// `planePitch` floats apart, into `y [channels, outH, outW]`, then
    /// applies `epilogue`'s bias and relu (channel c of the epilogue is plane c;
    /// no affine map).
    func store(_ planes: UnsafePointer<Float>, channels: Int, rowPitch: Int, planePitch: Int,
               epilogue: ChannelEpilogue, into y: UnsafeMutablePointer<Float>) {
        precondition(epilogue.scale == nil, "a pooled store applies no affine map")
        maxPoolValues(planes, geometry, planes: channels, rowPitch: rowPitch, planePitch: planePitch, y, scratch: scratch)
        guard epilogue.bias != nil || epilogue.rectify else { return }
        let spatial = geometry.outH * geometry.outW
        for c in 0..<channels {
            let plane = y + c * spatial
            var i = 0
            while i + 16 <= spatial {
                let v = UnsafeRawPointer(plane + i).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(plane + i).storeBytes(of: epilogue.apply(v, channel: c), as: SIMD16<Float>.self)
                i += 16
            }
            while i < spatial {
                plane[i] = epilogue.apply(plane[i], channel: c)
                i += 1
            }
        }
    }
}

extension PooledStore {
    /// Pools `count` images of channels-last values (pixel (y, x) of image n
    /// at `values + n * imagePitch + y * rowPitch + x * channels`, 16
    /// channels per vector; `channels` a multiple of 16: Winograd's output
    /// tiles) into their NCHW pooled planes, `outputStride` floats per image
    /// from `y`, through `epilogue`'s bias and relu. Each window's in-image
    /// pixels only (padding never wins a max pool). Vectors run across
    /// channels, so a window is one vector max per pixel and no transposes:
    /// each pooled vector is scattered to its 16 planes.
    func store(channelsLast values: UnsafePointer<Float>, count: Int, rowPitch: Int, imagePitch: Int, channels: Int,
               epilogue: ChannelEpilogue, into y: UnsafeMutablePointer<Float>) {
        precondition(channels % 16 == 0 && epilogue.scale == nil, "channels-last pooling: 16-channel vectors, no affine map")
        let g = geometry, spatial = g.outH * g.outW
        for n in 0..<count {
            let src = values + n * imagePitch, dst = y + n * outputStride
            for py in 0..<g.outH {
                let y0 = py * g.strideH - g.padH
                let rows = max(0, y0)..<min(g.height, y0 + g.kernelH)
                for px in 0..<g.outW {
                    let x0 = px * g.strideW - g.padW
                    let columns = max(0, x0)..<min(g.width, x0 + g.kernelW)
                    let at = py * g.outW + px
                    for cb in stride(from: 0, to: channels, by: 16) {
                        var best = SIMD16<Float>(repeating: -.infinity)
                        for iy in rows {
                            for ix in columns {
                                let v = loadVector(src + iy * rowPitch + ix * channels + cb)
                                best.replace(with: v, where: v .> best)
                            }
                        }
                        let out = epilogue.apply(channelsFrom: cb, best, inBlock: true)
                        for k in 0..<16 { dst[(cb + k) * spatial + at] = out[k] }
                    }
                }
            }
        }
    }
}

/// A convolution algorithm whose forward pass can store its outputs' max
/// pool instead of the outputs (`PooledStore`): the tap GEMMs, fp32 and
/// bf16, which stage each strip's outputs before copying them out, and
/// Winograd's, which pools each block's channels-last output tiles.
public protocol PoolStoring: ConvolutionAlgorithm {
    /// `y` holds `pooled.outputStride` floats per image, `[O, pooled OH,
    /// pooled OW]`: the max pool of `conv(x, weights)`, then `epilogue`'s
    /// bias and relu (no affine map).
    func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                 pooled: PooledStore, batch: Int, epilogue: ChannelEpilogue, workspace: ConvolutionWorkspace)
}

extension PooledStore {
    /// Whether this store pools a convolution output of `channels` planes of `height x width`.
    func takes(channels: Int, height: Int, width: Int) -> Bool {
        geometry.channels == channels && geometry.height == height && geometry.width == width
    }
}
