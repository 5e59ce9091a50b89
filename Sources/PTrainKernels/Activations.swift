// Point-wise activations and their gradients. Backward ACCUMULATES into dx
// (or, where asked to `overwrite`, writes what adding into a zeroed dx gives).

/// `y = max(x, 0)`.
/// ReLU's rule, shared by every pass that rectifies (fused or not): a
/// vector keeps -0 and NaN lanes (only `v < 0` becomes 0); the scalar tail
/// maps anything not `> 0` to 0.
@inline(__always)
func rectified(_ v: SIMD16<Float>) -> SIMD16<Float> { v.replacing(with: SIMD16<Float>(repeating: 0), where: v .< 0) }
@inline(__always)
func rectified(_ v: Float) -> Float { v > 0 ? v : 0 }

public func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    let zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= count {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: v.replacing(with: zero, where: v .< zero), as: SIMD16<Float>.self)
        i += 16
    }
    while i < count { y[i] = x[i] > 0 ? x[i] : 0; i += 1 }
}

/// `dx += dy * (y > 0)`, using the forward OUTPUT y (so ReLU can run in place).
/// `overwrite`: `dx = 0 + dy * (y > 0)`, the same bits as adding into a
/// zeroed dx, without reading it (`InputGradientOverwriting`).
public func reluBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>, count: Int, overwrite: Bool = false) {
    let zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= count {
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        let g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD16<Float>.self)
        let d = overwrite ? zero : UnsafeRawPointer(dx + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(dx + i).storeBytes(of: d + g.replacing(with: zero, where: yv .<= zero), as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        if overwrite { dx[i] = y[i] > 0 ? 0 + dy[i] : 0 } else if y[i] > 0 { dx[i] += dy[i] }
        i += 1
    }
}

/// `reluBackward` into two gradients at once (a residual join fused with
/// the relu after it): `a += dy * (y > 0)`, `b += dy * (y > 0)`, reading y
/// and dy once; `overwriteA`, `overwriteB` as `reluBackward`'s `overwrite`.
public func reluBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         into a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, count: Int,
                         overwriteA: Bool = false, overwriteB: Bool = false) {
    let zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= count {
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        let g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD16<Float>.self).replacing(with: zero, where: yv .<= zero)
        let va = overwriteA ? zero : UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self)
        let vb = overwriteB ? zero : UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(a + i).storeBytes(of: va + g, as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(b + i).storeBytes(of: vb + g, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        let g: Float = y[i] > 0 ? dy[i] : 0
        if overwriteA { a[i] = 0 + g } else if y[i] > 0 { a[i] += g }
        if overwriteB { b[i] = 0 + g } else if y[i] > 0 { b[i] += g }
        i += 1
    }
}

/// `dy = dy * (y > 0)` in place: the gradient of a layer's output before the
/// ReLU fused into it, bitwise what `reluBackward` writes into a zeroed `dx`.
public func rectifyGradient(_ y: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>, count: Int) {
    let zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= count {
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        let g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(dy + i).storeBytes(of: zero + g.replacing(with: zero, where: yv .<= zero), as: SIMD16<Float>.self)
        i += 16
    }
    while i < count { dy[i] = y[i] > 0 ? 0 + dy[i] : 0; i += 1 }
}

/// Numerically safe logistic function for one value.
@inline(__always)
public func sigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + (-x).exp_()) }
    let e = x.exp_()
    return e / (1 + e)
}

/// `y = 1 / (1 + exp(-x))`.
public func sigmoidForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = sigmoid(x[i]) }
}

/// `dx += dy * y * (1 - y)`, from the forward output y.
public func sigmoidBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                            _ dx: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    let one = SIMD16<Float>(repeating: 1)
    while i + 16 <= count {
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        let g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD16<Float>.self)
        var d = UnsafeRawPointer(dx + i).loadUnaligned(as: SIMD16<Float>.self)
        d.addProduct(g * yv, one - yv)
        UnsafeMutableRawPointer(dx + i).storeBytes(of: d, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count { dx[i] += dy[i] * y[i] * (1 - y[i]); i += 1 }
}
