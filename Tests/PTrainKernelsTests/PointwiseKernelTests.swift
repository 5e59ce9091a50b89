import Testing
import PTrainKernels
import Foundation

let vectorLengths = [0, 1, 3, 7, 15, 16, 17, 33, 100, 1000]

@Test("ReLU forward/backward match the definition", arguments: vectorLengths)
func reluMatchesReference(_ n: Int) {
    let x = randomFloats(n, seed: UInt64(n))
    var y = [Float](repeating: .nan, count: n)
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { reluForward(xs.baseAddress!, $0.baseAddress!, count: n) } }
    #expect(y == x.map { max($0, 0) })
    let dy = randomFloats(n, seed: UInt64(n + 1))
    var dx = [Float](repeating: 0.25, count: n)
    y.withUnsafeBufferPointer { ys in dy.withUnsafeBufferPointer { d in dx.withUnsafeMutableBufferPointer {
        reluBackward(ys.baseAddress!, d.baseAddress!, $0.baseAddress!, count: n)
    } } }
    #expect(dx == (0..<n).map { 0.25 + (x[$0] > 0 ? dy[$0] : 0) })
}

@Test("sigmoid forward/backward match the definition", arguments: vectorLengths)
func sigmoidMatchesReference(_ n: Int) {
    let x = randomFloats(n, seed: UInt64(n)).map { $0 * 30 }  // saturating values too
    var y = [Float](repeating: .nan, count: n)
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { sigmoidForward(xs.baseAddress!, $0.baseAddress!, count: n) } }
    let ref = x.map { Float(1 / (1 + exp(-Double($0)))) }
    #expect(assertClose(y, ref, tolerance: 1e-6, "sigmoid") == nil)
    let dy = randomFloats(n, seed: UInt64(n + 7))
    var dx = [Float](repeating: 0, count: n)
    y.withUnsafeBufferPointer { ys in dy.withUnsafeBufferPointer { d in dx.withUnsafeMutableBufferPointer {
        sigmoidBackward(ys.baseAddress!, d.baseAddress!, $0.baseAddress!, count: n)
    } } }
    #expect(assertClose(dx, (0..<n).map { dy[$0] * ref[$0] * (1 - ref[$0]) }, tolerance: 1e-5, "dsigmoid") == nil)
}

@Test("vector ops: accumulate, axpy, scale, sum, channel bias", arguments: vectorLengths)
func vectorOpsMatchReference(_ n: Int) {
    let x = randomFloats(n, seed: 11), y0 = randomFloats(n, seed: 12)
    var y = y0
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { accumulate(xs.baseAddress!, into: $0.baseAddress!, count: n) } }
    #expect(y == zip(x, y0).map { $0 + $1 })
    y = y0
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { axpy(-0.5, xs.baseAddress!, $0.baseAddress!, count: n) } }
    #expect(assertClose(y, zip(x, y0).map { $1 - 0.5 * $0 }, tolerance: 1e-6, "axpy") == nil)
    y = y0
    y.withUnsafeMutableBufferPointer { scale($0.baseAddress!, by: 3, count: n) }
    #expect(y == y0.map { $0 * 3 })
    let s = x.withUnsafeBufferPointer { sum($0.baseAddress!, count: n) }
    #expect(abs(Double(s) - x.reduce(0.0) { $0 + Double($1) }) < 1e-4)
}

@Test("channel bias add and its gradient", arguments: [(1, 1, 1), (2, 3, 17), (3, 6, 784), (2, 16, 100)])
func channelBias(_ shape: (Int, Int, Int)) {
    let (batch, channels, spatial) = shape
    let bias = randomFloats(channels, seed: 3)
    let y0 = randomFloats(batch * channels * spatial, seed: 4)
    var y = y0
    bias.withUnsafeBufferPointer { b in y.withUnsafeMutableBufferPointer {
        addChannelBias($0.baseAddress!, b.baseAddress!, batch: batch, channels: channels, spatial: spatial)
    } }
    #expect(y == (0..<y0.count).map { y0[$0] + bias[($0 / spatial) % channels] })
    var db = [Float](repeating: 1, count: channels)
    y0.withUnsafeBufferPointer { d in db.withUnsafeMutableBufferPointer {
        accumulateChannelBiasGradient(d.baseAddress!, $0.baseAddress!, batch: batch, channels: channels, spatial: spatial)
    } }
    for c in 0..<channels {
        var ref = 1.0
        for n in 0..<batch { for s in 0..<spatial { ref += Double(y0[(n * channels + c) * spatial + s]) } }
        #expect(abs(Double(db[c]) - ref) < 1e-3)
    }
}

@Test("softmax cross-entropy: loss, gradient and accuracy", arguments: [(1, 1), (1, 10), (7, 3), (64, 10), (5, 1000)])
func softmaxCrossEntropyMatchesReference(_ shape: (Int, Int)) {
    let (batch, classes) = shape
    let logits = randomFloats(batch * classes, seed: 21).map { $0 * 20 }  // large values: stability
    let labels = (0..<batch).map { Int32(($0 * 7) % classes) }
    var d = [Float](repeating: .nan, count: logits.count)
    var correct = 0
    let loss = logits.withUnsafeBufferPointer { z in labels.withUnsafeBufferPointer { l in d.withUnsafeMutableBufferPointer {
        softmaxCrossEntropy(z.baseAddress!, labels: l.baseAddress!, batch: batch, classes: classes, gradScale: 0.5,
                            $0.baseAddress!, correct: &correct)
    } } }
    var refLoss = 0.0, refCorrect = 0
    for n in 0..<batch {
        let z = logits[(n * classes)..<((n + 1) * classes)].map(Double.init)
        let m = z.max()!
        let lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
        refLoss += lse - z[Int(labels[n])]
        if z.firstIndex(of: m)! == Int(labels[n]) { refCorrect += 1 }
        for k in 0..<classes {
            let g = 0.5 * (exp(z[k] - lse) - (k == Int(labels[n]) ? 1 : 0))
            #expect(abs(Double(d[n * classes + k]) - g) < 1e-6)
        }
    }
    #expect(abs(Double(loss) - refLoss) <= 1e-5 * max(1, refLoss))
    #expect(correct == refCorrect)
}

@Test("binary logistic loss: loss, gradient and accuracy", arguments: [1, 2, 9, 64])
func binaryLogisticMatchesReference(_ batch: Int) {
    let z = randomFloats(batch, seed: 31).map { $0 * 40 }
    let t = (0..<batch).map { Int32($0 % 2) }
    var d = [Float](repeating: .nan, count: batch)
    var correct = 0
    let loss = z.withUnsafeBufferPointer { zs in t.withUnsafeBufferPointer { ts in d.withUnsafeMutableBufferPointer {
        binaryLogisticLoss(zs.baseAddress!, targets: ts.baseAddress!, batch: batch, gradScale: 2, $0.baseAddress!, correct: &correct)
    } } }
    var ref = 0.0, refCorrect = 0
    for n in 0..<batch {
        let zd = Double(z[n]), td = Double(t[n])
        ref += max(zd, 0) + log1p(exp(-abs(zd))) - td * zd
        if (zd > 0 ? 1 : 0) == Int(t[n]) { refCorrect += 1 }
        #expect(abs(Double(d[n]) - 2 * (1 / (1 + exp(-zd)) - td)) < 1e-6)
    }
    #expect(abs(Double(loss) - ref) <= 1e-5 * max(1, ref))
    #expect(correct == refCorrect)
}
