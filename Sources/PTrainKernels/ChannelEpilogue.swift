/// What a convolution's forward pass applies to each output value of channel
/// c as it stores it, in this order: `+ bias[c]` (`addChannelBias`), then
/// `* scale[c] + shift[c]` (inference batch norm folded into the
/// convolution, `channelAffine`), then ReLU. Each step rounds exactly as the
/// separate pass it replaces (16-pixel blocks of a plane fused multiply-add,
/// the plane's last pixels multiply then add), so a fused store and the
/// separate passes give the same bits. Algorithms that fuse it adopt
/// `EpilogueFusing`; after the others' forward pass the caller runs
/// `applySeparately`.
public struct ChannelEpilogue {
    public let bias: UnsafePointer<Float>?
    /// `scale` and `shift` come together (or neither).
    public let scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?
    public let rectify: Bool

    public init(bias: UnsafePointer<Float>? = nil, scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil,
                rectify: Bool = false) {
        precondition((scale == nil) == (shift == nil))
        self.bias = bias; self.scale = scale; self.shift = shift; self.rectify = rectify
    }

    public static var none: ChannelEpilogue { ChannelEpilogue() }

    /// The epilogue of channels `first...` (a group's), as channel 0 onward.
    public func forChannels(from first: Int) -> ChannelEpilogue {
        ChannelEpilogue(bias: bias.map { $0 + first }, scale: scale.map { $0 + first }, shift: shift.map { $0 + first },
                        rectify: rectify)
    }

    /// Whether a fused store may apply it: with a bias or an affine map.
    /// A lone ReLU stays `reluForward` over the whole sample (its blocks of
    /// 16 differ from a plane's, and so could the sign of a zero).
    public var fusable: Bool { bias != nil || scale != nil }

    /// Whether a copy of the outputs may apply it value by value in any
    /// blocking (`TapConvolution.extract(..., bias:rectify:)`) and give the
    /// separate pass's bits: a bias (with or without relu) and no affine
    /// map, on planes of `spatial` pixels that are whole 16-pixel blocks,
    /// which that pass computes as vector lanes (`v < 0 -> 0`, NaN and -0
    /// kept) throughout.
    public func appliesInCopy(spatial: Int) -> Bool { bias != nil && scale == nil && spatial % 16 == 0 }

    /// 16 values of channel c (from a whole 16-pixel block of its plane).
    @inline(__always)
    func apply(_ v: SIMD16<Float>, channel c: Int) -> SIMD16<Float> {
        let v = mapped(v, channel: c)
        return rectify ? rectified(v) : v
    }

    /// `apply` with `r` added before the relu: the values of a residual
    /// join's other input (`Conv2D.foldedResidual`), as `addVectors` adds them.
    @inline(__always)
    func apply(_ v: SIMD16<Float>, channel c: Int, plus r: SIMD16<Float>) -> SIMD16<Float> {
        let v = mapped(v, channel: c) + r
        return rectify ? rectified(v) : v
    }

    /// The bias and the affine map, without the relu.
    @inline(__always)
    private func mapped(_ v: SIMD16<Float>, channel c: Int) -> SIMD16<Float> {
        var v = v
        if let bias { v += SIMD16<Float>(repeating: bias[c]) }
        if let scale, let shift {
            var t = SIMD16<Float>(repeating: shift[c])
            t.addProduct(v, SIMD16<Float>(repeating: scale[c]))
            v = t
        }
        return v
    }

    /// Channels `c ..< c + 16` of one pixel (a vector across channels, as
    /// a channels-last store holds them), each value computed as the NCHW
    /// store computes it: `inBlock` (the pixel lies in a whole 16-pixel
    /// block of its plane) as `apply(_:channel:)` on vectors of pixels
    /// (fused multiply-add, `v < 0 -> 0`), otherwise as the scalar form
    /// (multiply then add, `v > 0 ? v : 0`). Same bits, lane by lane.
    @inline(__always)
    func apply(channelsFrom c: Int, _ v: SIMD16<Float>, inBlock: Bool) -> SIMD16<Float> {
        var v = v
        if let bias { v += loadVector(bias + c) }
        if let scale, let shift {
            if inBlock {
                var t = loadVector(shift + c)
                t.addProduct(v, loadVector(scale + c))
                v = t
            } else {
                v = v * loadVector(scale + c) + loadVector(shift + c)
            }
        }
        guard rectify else { return v }
        return inBlock ? rectified(v) : v.replacing(with: SIMD16<Float>(repeating: 0), where: .!(v .> 0))
    }

    /// One value of channel c past the plane's whole 16-pixel blocks.
    @inline(__always)
    func apply(_ v: Float, channel c: Int) -> Float {
        let v = mapped(v, channel: c)
        return rectify ? rectified(v) : v
    }

    /// The scalar `apply(_:channel:plus:)`.
    @inline(__always)
    func apply(_ v: Float, channel c: Int, plus r: Float) -> Float {
        let v = mapped(v, channel: c) + r
        return rectify ? rectified(v) : v
    }

    @inline(__always)
    private func mapped(_ v: Float, channel c: Int) -> Float {
        var v = v
        if let bias { v += bias[c] }
        if let scale, let shift { v = v * scale[c] + shift[c] }
        return v
    }

    /// The epilogue as separate passes over `batch` outputs `[channels,
    /// spatial]`, `sampleStride` floats apart, in place.
    public func applySeparately(_ y: UnsafeMutablePointer<Float>, sampleStride: Int, batch: Int, channels: Int, spatial: Int) {
        for n in 0..<batch {
            let sample = y + n * sampleStride
            if let bias {
                addChannelBias(sample, bias, batch: 1, channels: channels, spatial: spatial, rectify: rectify && scale == nil)
            }
            if let scale, let shift {
                channelAffine(sample, sampleStride: channels * spatial, sample, batch: 1, channels: channels, spatial: spatial,
                              scale: scale, shift: shift, rectify: rectify)
            } else if rectify && bias == nil {
                reluForward(sample, sample, count: channels * spatial)
            }
        }
    }
}

/// A convolution algorithm whose forward pass applies a fusable
/// `ChannelEpilogue` while it stores its outputs.
public protocol EpilogueFusing: ConvolutionAlgorithm {
    /// `y = epilogue(conv(x, weights))` (`epilogue.fusable`).
    func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                 outputStride: Int, batch: Int, epilogue: ChannelEpilogue, workspace: ConvolutionWorkspace)
}
