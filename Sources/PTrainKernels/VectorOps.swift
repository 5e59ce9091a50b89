// Streaming element-wise kernels on contiguous Float buffers (SIMD16 bodies,
// scalar tails). None allocates.

/// `y[i] += x[i]` for i in 0..<count.
@inline(__always)
public func accumulate(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            + UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count { y[i] += x[i]; i += 1 }
}

/// `y[i] = a[i] + b[i]`; with `rectify`, then ReLU exactly as `reluForward`
/// applies it (a residual join fused with the relu after it).
public func addVectors(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                       count: Int, rectify: Bool) {
    var i = 0
    while i + 16 <= count {
        var v = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self)
            + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
        if rectify { v = rectified(v) }
        UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        let v = a[i] + b[i]
        y[i] = rectify ? rectified(v) : v
        i += 1
    }
}

/// `y[i] += a * x[i]`.
public func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    let va = SIMD16<Float>(repeating: a)
    var i = 0
    while i + 16 <= count {
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        var yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        yv.addProduct(va, xv)
        UnsafeMutableRawPointer(y + i).storeBytes(of: yv, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count { y[i] += a * x[i]; i += 1 }
}

/// `x[i] *= a`.
public func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count: Int) {
    var i = 0
    let va = SIMD16<Float>(repeating: a)
    while i + 16 <= count {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) * va
        UnsafeMutableRawPointer(x + i).storeBytes(of: v, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count { x[i] *= a; i += 1 }
}

/// Sum of `x[0..<count]`, accumulated in SIMD lanes then reduced (fixed order).
public func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var acc = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= count {
        acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        i += 16
    }
    var s = acc.sum()
    while i < count { s += x[i]; i += 1 }
    return s
}

/// Adds `bias[c]` to every element of plane c: `y [N, C, S]` (S = spatial
/// size); with `rectify`, then applies ReLU exactly as `reluForward` does.
public func addChannelBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>,
                           batch: Int, channels: Int, spatial: Int, rectify: Bool = false) {
    for n in 0..<batch {
        for c in 0..<channels {
            let plane = y + (n * channels + c) * spatial
            let b = SIMD16<Float>(repeating: bias[c])
            var i = 0
            while i + 16 <= spatial {
                var v = UnsafeRawPointer(plane + i).loadUnaligned(as: SIMD16<Float>.self) + b
                if rectify { v = rectified(v) }
                UnsafeMutableRawPointer(plane + i).storeBytes(of: v, as: SIMD16<Float>.self)
                i += 16
            }
            while i < spatial {
                let v = plane[i] + bias[c]
                plane[i] = rectify ? rectified(v) : v
                i += 1
            }
        }
    }
}

/// `dbias[c] += sum over n and s of dy[n, c, s]`: gradient of `addChannelBias`.
public func accumulateChannelBiasGradient(_ dy: UnsafePointer<Float>, _ dbias: UnsafeMutablePointer<Float>,
                                          batch: Int, channels: Int, spatial: Int) {
    for n in 0..<batch {
        for c in 0..<channels {
            dbias[c] += sum(dy + (n * channels + c) * spatial, count: spatial)
        }
    }
}
