// Central finite differences, in Double, for any `Layer`: the analytic
// backward must match d(sum(y * r))/d(input) and d/d(parameters) for a random
// upstream gradient r. Kinks (ReLU at 0, ties in max pooling) are avoided by
// the inputs the tests choose, as Caffe's checker does with its kink range.
import PTrain

/// Deterministic values in [-1, 1).
func testValues(_ count: Int, seed: UInt64) -> [Float] {
    var rng = CounterRNG(seed: seed, stream: .synthetic)
    return (0..<count).map { _ in 2 * rng.uniform() - 1 }
}

struct GradientMismatch: CustomStringConvertible {
    let what: String, index: Int, analytic: Double, numeric: Double
    var description: String { "\(what)[\(index)]: analytic \(analytic) vs numeric \(numeric)" }
}

/// Checks `layer` on `batch` samples. Returns every mismatch (empty = pass)
/// and the number of entries checked (tests assert it is > 0).
func gradientCheck(_ layer: any Layer, batch: Int, input: [Float]? = nil, seed: UInt64 = 7,
                   epsilon: Float = 1e-2, tolerance: Double = 2e-2, maxChecks: Int = 80,
                   training: Bool = true) -> (mismatches: [GradientMismatch], checked: Int) {
    let inCount = batch * layer.inputShape.count, outCount = batch * layer.outputShape.count
    let context = StepContext(seed: 3, maxBatch: batch)
    context.training = training
    for i in 0..<batch { context.sampleIndices[i] = 10 + i }
    layer.allocate(maxBatch: batch)
    let specs = layer.parameterSpecs
    let params = specs.enumerated().map { i, s in testValues(s.count, seed: seed &+ 100 &+ UInt64(i)).map { $0 * 0.5 } }
    let pPtrs = params.map { v -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(v.count, 1)); p.initialize(from: v, count: v.count); return p
    }
    let gPtrs = specs.map { s -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(s.count, 1)); p.initialize(repeating: 0, count: max(s.count, 1)); return p
    }
    defer { pPtrs.forEach { $0.deallocate() }; gPtrs.forEach { $0.deallocate() } }
    layer.bind(parameters: pPtrs, gradients: gPtrs)

    var x = input ?? testValues(inCount, seed: seed)
    let r = testValues(outCount, seed: seed &+ 1)
    var y = [Float](repeating: 0, count: outCount)

    func objective() -> Double {
        x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer {
            layer.forward(xs.baseAddress!, $0.baseAddress!, batch: batch, context: context)
        } }
        return zip(y, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    // Analytic: dx starts at 0.5 everywhere to prove backward ADDS into it.
    _ = objective()
    var dx = [Float](repeating: 0.5, count: inCount)
    x.withUnsafeBufferPointer { xs in y.withUnsafeBufferPointer { ys in r.withUnsafeBufferPointer { rs in dx.withUnsafeMutableBufferPointer {
        layer.backward(xs.baseAddress!, ys.baseAddress!, rs.baseAddress!, $0.baseAddress!, batch: batch, context: context)
    } } } }
    let analyticParams = specs.indices.map { Array(UnsafeBufferPointer(start: gPtrs[$0], count: specs[$0].count)) }

    var mismatches: [GradientMismatch] = []
    var checked = 0
    func compare(_ what: String, _ index: Int, _ analytic: Double, _ numeric: Double) {
        checked += 1
        if abs(analytic - numeric) > tolerance * max(1, abs(analytic), abs(numeric)) {
            mismatches.append(GradientMismatch(what: what, index: index, analytic: analytic, numeric: numeric))
        }
    }
    func indices(_ n: Int) -> [Int] { n <= maxChecks ? Array(0..<n) : (0..<maxChecks).map { $0 * n / maxChecks } }

    for i in indices(inCount) {
        let saved = x[i]
        x[i] = saved + epsilon; let plus = objective()
        x[i] = saved - epsilon; let minus = objective()
        x[i] = saved
        compare("input", i, Double(dx[i]) - 0.5, (plus - minus) / (2 * Double(epsilon)))
    }
    for (t, spec) in specs.enumerated() where spec.isTrainable {  // running statistics are state, not gradients
        for i in indices(spec.count) {
            let saved = pPtrs[t][i]
            pPtrs[t][i] = saved + epsilon; let plus = objective()
            pPtrs[t][i] = saved - epsilon; let minus = objective()
            pPtrs[t][i] = saved
            compare(spec.name, i, Double(analyticParams[t][i]), (plus - minus) / (2 * Double(epsilon)))
        }
    }
    return (mismatches, checked)
}
