/// A convolution's outputs stored as their max pool (inference): the
/// convolution's forward pass pools each image's staged outputs while they
/// are in cache and writes only the pooled planes, so the full-size output
/// is never written and never read back (`Conv2D.foldedPool`; W2's conv1
/// stores 1/4 of its 24x24 planes).
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

/// A convolution algorithm whose forward pass can store its outputs' max
/// pool instead of the outputs (`PooledStore`): the tap GEMMs, fp32 and
/// bf16, which stage each strip's outputs before copying them out.
public protocol PoolStoring: ConvolutionAlgorithm {
    /// `y` holds `pooled.outputStride` floats per image, `[O, pooled OH,
    /// pooled OW]`: the max pool of `conv(x, weights)`, then `epilogue`'s
    /// bias and relu (no affine map).
    func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                 pooled: PooledStore, batch: Int, epilogue: ChannelEpilogue, workspace: ConvolutionWorkspace)
}

extension PooledStore {
    /// Whether this store takes the outputs of `plan` (one group's, `groups` of them).
    func takes(_ plan: TapConvolution, groups: Int) -> Bool {
        geometry.channels == groups * plan.outputs && geometry.height == plan.outH && geometry.width == plan.outW
    }
}
