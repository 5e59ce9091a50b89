// Batch-normalisation kernels on `[N, C, S]` activations (S = spatial size),
// where consecutive samples may be `sampleStride` floats apart (>= C * S): a
// sample can be a channel prefix of a wider tensor (DenseNet's shared
// concatenation storage). Plane sums run in SIMD16 lanes and are added into
// Double per channel, so the statistics of large batches keep full precision
// and the summation order is fixed (deterministic). The statistics are split
// from their use so that they can be summed across workers in between
// (batch norm over the whole global batch).

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
@inline(__always)
private func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self) }

/// The normalised value `x * a + b` as `channelAffine` computes it: batch
/// norm with a fused ReLU recomputes its mask from it in backward, so both
/// must round identically.
@inline(__always)
private func affine(_ x: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    var v = b
    v.addProduct(x, a)
    return v
}
@inline(__always)
private func affine(_ x: Float, _ a: Float, _ b: Float) -> Float { x * a + b }

/// The per-channel affine map (`scale`, `shift`, `[C]` each) that a batch
/// norm applied before the ReLU fused into it: backward keeps the gradient
/// where `x * scale + shift > 0` (where the ReLU passed its input).
public struct RectifiedAffine {
    public let scale: UnsafePointer<Float>, shift: UnsafePointer<Float>
    public init(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) { self.scale = scale; self.shift = shift }
}

/// Per channel, `sums[c] = sum(x)` over the batch and plane, or with
/// `center`, `sum((x - center[c])^2)`. Sample-major, as every pass here:
/// a sample's planes are read as one run (a channel's planes are strided,
/// often one 4 KB page each, where the hardware prefetcher restarts);
/// each channel still adds its planes' sums in sample order.
public func channelSums(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int, sampleStride: Int,
                        center: UnsafePointer<Float>?, into sums: UnsafeMutablePointer<Double>) {
    for c in 0..<channels { sums[c] = 0 }
    for n in 0..<batch {
        for c in 0..<channels {
            let m = center?[c] ?? 0, vm = SIMD16<Float>(repeating: m)
            let p = x + n * sampleStride + c * spatial
            var acc = SIMD16<Float>(repeating: 0)
            var i = 0
            var s: Float = 0
            if center == nil {
                while i + 16 <= spatial { acc += load(p + i); i += 16 }
                s = acc.sum()
                while i < spatial { s += p[i]; i += 1 }
            } else {
                while i + 16 <= spatial { let d = load(p + i) - vm; acc.addProduct(d, d); i += 16 }
                s = acc.sum()
                while i < spatial { let d = p[i] - m; s += d * d; i += 1 }
            }
            sums[c] += Double(s)
        }
    }
}

/// Per-channel mean and biased variance (two passes: mean, then the mean
/// squared deviation) of `x [batch, C, S]`. Writes `mean[C]`,
/// `variance[C]`; `scratch` holds C doubles.
public func channelMoments(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int, sampleStride: Int,
                           mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
                           scratch: UnsafeMutablePointer<Double>) {
    let count = Double(batch * spatial)
    channelSums(x, batch: batch, channels: channels, spatial: spatial, sampleStride: sampleStride, center: nil, into: scratch)
    for c in 0..<channels { mean[c] = Float(scratch[c] / count) }
    channelSums(x, batch: batch, channels: channels, spatial: spatial, sampleStride: sampleStride, center: mean, into: scratch)
    for c in 0..<channels { variance[c] = Float(scratch[c] / count) }
}

/// `y = x * scale[c] + shift[c]` per channel (the folded normalisation and
/// affine transform); `y` is dense `[batch, C, S]`. With `rectify`, then
/// ReLU exactly as `reluForward` applies it.
public func channelAffine(_ x: UnsafePointer<Float>, sampleStride: Int, _ y: UnsafeMutablePointer<Float>,
                          batch: Int, channels: Int, spatial: Int,
                          scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, rectify: Bool = false) {
    for n in 0..<batch {
        for c in 0..<channels {
            let p = x + n * sampleStride + c * spatial, q = y + (n * channels + c) * spatial
            let a = scale[c], b = shift[c]
            let va = SIMD16<Float>(repeating: a), vb = SIMD16<Float>(repeating: b)
            var i = 0
            while i + 16 <= spatial {
                var v = affine(load(p + i), va, vb)
                if rectify { v = rectified(v) }
                store(v, q + i)
                i += 16
            }
            while i < spatial {
                let v = affine(p[i], a, b)
                q[i] = rectify ? rectified(v) : v
                i += 1
            }
        }
    }
}

/// `dy` where the fused ReLU passed its input (`rectified`), else `dy`:
/// bitwise what `reluBackward` writes into a zeroed buffer.
@inline(__always)
private func gradient(_ g: SIMD16<Float>, _ x: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>, _ rectified: Bool) -> SIMD16<Float> {
    guard rectified else { return g }
    let zero = SIMD16<Float>(repeating: 0)
    return zero + g.replacing(with: zero, where: affine(x, a, b) .<= zero)
}
@inline(__always)
private func gradient(_ g: Float, _ x: Float, _ a: Float, _ b: Float, _ rectified: Bool) -> Float {
    guard rectified else { return g }
    return affine(x, a, b) > 0 ? 0 + g : 0
}

/// The sums batch norm's backward needs, per channel: `sums[c] = sum(dy)`,
/// `sums[C + c] = sum(dy * (x - mean[c]))`. (`dy` is dense `[batch, C, S]`.)
/// With `rectified`, dy is the gradient of the fused ReLU's output, masked
/// here where the ReLU did not pass its input. Sample-major, as
/// `channelSums`.
public func batchNormGradientSums(_ x: UnsafePointer<Float>, sampleStride: Int, _ dy: UnsafePointer<Float>,
                                  batch: Int, channels: Int, spatial: Int, mean: UnsafePointer<Float>,
                                  rectified: RectifiedAffine? = nil, into sums: UnsafeMutablePointer<Double>) {
    for c in 0..<channels { sums[c] = 0; sums[channels + c] = 0 }
    for n in 0..<batch {
        for c in 0..<channels {
            let m = mean[c], vm = SIMD16<Float>(repeating: m)
            let a = rectified?.scale[c] ?? 0, b = rectified?.shift[c] ?? 0, relu = rectified != nil
            let va = SIMD16<Float>(repeating: a), vb = SIMD16<Float>(repeating: b)
            let p = x + n * sampleStride + c * spatial, g = dy + (n * channels + c) * spatial
            // Two chains per sum, combined in a fixed order.
            var a1 = SIMD16<Float>(repeating: 0), a2 = a1, b1 = a1, b2 = a1
            var i = 0
            while i + 32 <= spatial {
                let xv = load(p + i), xw = load(p + i + 16)
                let d = gradient(load(g + i), xv, va, vb, relu), e = gradient(load(g + i + 16), xw, va, vb, relu)
                a1 += d; b1 += e
                a2.addProduct(d, xv - vm); b2.addProduct(e, xw - vm)
                i += 32
            }
            while i + 16 <= spatial {
                let xv = load(p + i)
                let d = gradient(load(g + i), xv, va, vb, relu)
                a1 += d
                a2.addProduct(d, xv - vm)
                i += 16
            }
            var s1 = (a1 + b1).sum(), s2 = (a2 + b2).sum()
            while i < spatial {
                let d = gradient(g[i], p[i], a, b, relu)
                s1 += d; s2 += d * (p[i] - m)
                i += 1
            }
            sums[c] += Double(s1); sums[channels + c] += Double(s2)
        }
    }
}

/// Input gradient of training-mode batch norm, `y = gamma * (x - mean) * invStd + beta`,
/// from the sums of `batchNormGradientSums` over `count` values per channel:
/// `dx += gamma * invStd * (dy - sum(dy)/M - xhat * sum(dy * xhat)/M)` (same stride as `x`).
/// `rectified`: as for `batchNormGradientSums`. `overwrite`: `dx = 0 + ...`,
/// the same bits as adding into a zeroed dx, without reading it.
/// Sample-major, as `channelSums`.
public func batchNormInputGradient(_ x: UnsafePointer<Float>, sampleStride: Int, _ dy: UnsafePointer<Float>,
                                   _ dx: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
                                   mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                   rectified: RectifiedAffine? = nil, sums: UnsafePointer<Double>, count: Double,
                                   overwrite: Bool = false) {
    let zero = SIMD16<Float>(repeating: 0)
    for n in 0..<batch {
        for c in 0..<channels {
            let m = mean[c], r = invStd[c], vm = SIMD16<Float>(repeating: m)
            let a = rectified?.scale[c] ?? 0, b = rectified?.shift[c] ?? 0, relu = rectified != nil
            let va = SIMD16<Float>(repeating: a), vb = SIMD16<Float>(repeating: b)
            let sumDyXhat = Float(sums[channels + c]) * r
            // dx = k * dy + k2 * (x - mean) + k3 (a few scalar operations per plane)
            let k = gamma[c] * r
            let k2 = -k * r * sumDyXhat / Float(count)
            let k3 = -k * Float(sums[c] / count)
            let vk = SIMD16<Float>(repeating: k), vk2 = SIMD16<Float>(repeating: k2), vk3 = SIMD16<Float>(repeating: k3)
            let p = x + n * sampleStride + c * spatial, g = dy + (n * channels + c) * spatial
            let q = dx + n * sampleStride + c * spatial
            var i = 0
            while i + 16 <= spatial {
                let xv = load(p + i)
                var v = (overwrite ? zero : load(q + i)) + vk3
                v.addProduct(vk, gradient(load(g + i), xv, va, vb, relu))
                v.addProduct(vk2, xv - vm)
                store(v, q + i)
                i += 16
            }
            while i < spatial {
                q[i] = (overwrite ? 0 : q[i]) + (k * gradient(g[i], p[i], a, b, relu) + k2 * (p[i] - m) + k3)
                i += 1
            }
        }
    }
}
