import PTrain
import PTrainData
import Testing

// TransformChain against the eager references of TransformReference.swift:
// each transform alone, then whole chains, ten-crop views and determinism.

/// Reproducible bytes of an interleaved `height x width x channels` image.
func testBytes(height: Int, width: Int, channels: Int, seed: UInt64 = 7) -> [UInt8] {
    var rng = CounterRNG(seed: seed, stream: .synthetic)
    return (0..<height * width * channels).map { _ in UInt8(rng.below(256)) }
}

/// Runs `chain` on interleaved `bytes`, returning the CHW floats.
func runChain(_ chain: TransformChain, _ bytes: [UInt8], height: Int, width: Int, channels: Int,
              scratch: TransformScratch = TransformScratch(), seed: UInt64 = 3, epoch: Int = 1, index: Int = 0,
              view: Int = 0) -> [Float] {
    let (oh, ow) = chain.outputSize(input: (height, width))
    var out = [Float](repeating: .nan, count: channels * oh * ow)
    bytes.withUnsafeBufferPointer { px in
        let image = PixelView(width: width, height: height, channels: channels, layout: .interleaved, pixels: px.baseAddress!)
        out.withUnsafeMutableBufferPointer { chain.apply(image, into: $0.baseAddress!, scratch: scratch, seed: seed, epoch: epoch, index: index, view: view) }
    }
    return out
}

/// Largest absolute difference between the chain's output and the reference.
func maxDifference(_ out: [Float], _ ref: ReferenceImage) -> Double {
    precondition(out.count == ref.values.count, "\(out.count) values, reference has \(ref.values.count)")
    return zip(out, ref.values).map { abs(Double($0) - $1) }.max() ?? 0
}

let testLighting = TransformOperation.lighting(alphaStd: 0.5, eigenvalues: [0.2, 0.05, 0.01],
                                               eigenvectors: [[-0.58, -0.81, 0.04], [-0.58, 0.37, -0.72], [-0.57, 0.45, 0.69]])

/// Chain vs reference for `ops` on a `height x width x channels` image, over several sample indices.
func checkAgainstReference(_ ops: [TransformOperation], height: Int, width: Int, channels: Int = 3,
                           mean: [Double] = [], std: [Double] = [], view: Int = 0, tolerance: Double = 1e-4,
                           sourceLocation: SourceLocation = #_sourceLocation) {
    let bytes = testBytes(height: height, width: width, channels: channels)
    let chain = TransformChain(ops, mean: mean.map(Float.init), std: std.map(Float.init), lighting: nil)
    let input = ReferenceImage(interleaved: bytes, height: height, width: width, channels: channels)
    for index in 0..<6 {
        let out = runChain(chain, bytes, height: height, width: width, channels: channels, index: index, view: view)
        let ref = referenceChain(ops, input, mean: mean, std: std, seed: 3, epoch: 1, index: index, view: view)
        let (oh, ow) = chain.outputSize(input: (height, width))
        #expect(ref.height == oh && ref.width == ow, "outputSize \(oh)x\(ow), reference \(ref.height)x\(ref.width)", sourceLocation: sourceLocation)
        #expect(maxDifference(out, ref) < tolerance, "index \(index): max difference \(maxDifference(out, ref))", sourceLocation: sourceLocation)
    }
}

@Test("resize is antialiased bilinear (PIL / torchvision antialias=True): shrinking, enlarging, one axis, shorter side")
func resizeMatchesReference() {
    checkAgainstReference([.resize(.exact(height: 11, width: 16))], height: 23, width: 37)
    checkAgainstReference([.resize(.exact(height: 30, width: 41))], height: 23, width: 37)
    checkAgainstReference([.resize(.exact(height: 23, width: 9))], height: 23, width: 37, channels: 1)
    checkAgainstReference([.resize(.side(10))], height: 23, width: 37)
    // Resizing a cut is resizing the crop (not the image around it); mirrored too.
    checkAgainstReference([.centerCrop(height: 15, width: 20), .flip, .resize(.exact(height: 7, width: 9))], height: 23, width: 37)
}

@Test("torchvision Resize(int): the shorter side becomes the size, the longer is truncated; the same size is left alone")
func resizeOutputSize() {
    let chain = TransformChain([.resize(.side(256))], mean: [], std: [], lighting: nil)
    #expect(chain.outputSize(input: (375, 500)) == (256, 341))
    #expect(chain.outputSize(input: (500, 375)) == (341, 256))
    #expect(chain.outputSize(input: (256, 256)) == (256, 256))
    // A no-op resize returns the input's values exactly.
    let bytes = testBytes(height: 4, width: 5, channels: 3)
    let out = runChain(TransformChain([.resize(.exact(height: 4, width: 5))], mean: [], std: [], lighting: nil), bytes,
                       height: 4, width: 5, channels: 3)
    #expect(maxDifference(out, ReferenceImage(interleaved: bytes, height: 4, width: 5, channels: 3)) < 1e-7)
}

@Test("planar (ImageSet) and interleaved (decoder) layouts give the same sample")
func layoutsAgree() {
    let (h, w, c) = (9, 13, 3)
    let bytes = testBytes(height: h, width: w, channels: c)
    let planar = (0..<c * h * w).map { i in bytes[(i % (h * w)) * c + i / (h * w)] }
    let chain = TransformChain([.randomResizedCrop(height: 6, width: 6, scale: 0.3...1, ratio: 0.75...1.33), .flip],
                               mean: [0.5, 0.4, 0.3], std: [0.2, 0.3, 0.4], lighting: nil)
    var out = [Float](repeating: 0, count: c * 36)
    planar.withUnsafeBufferPointer { px in
        let image = PixelView(width: w, height: h, channels: c, layout: .planar, pixels: px.baseAddress!)
        chain.apply(image, into: &out, scratch: TransformScratch(), seed: 3, epoch: 1, index: 0)
    }
    #expect(out == runChain(chain, bytes, height: h, width: w, channels: c))
}

@Test("crops: centre offsets round half to even as torchvision, larger crops and padding are zero-filled")
func cropsMatchReference() {
    checkAgainstReference([.centerCrop(height: 4, width: 4)], height: 7, width: 9)  // offsets 1.5 -> 2, 2.5 -> 2
    checkAgainstReference([.centerCrop(height: 5, width: 3)], height: 8, width: 10)  // 1.5 -> 2, 3.5 -> 4
    checkAgainstReference([.centerCrop(height: 12, width: 11)], height: 7, width: 8, mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1])
    checkAgainstReference([.randomCrop(height: 6, width: 6, padding: 2)], height: 6, width: 7)
    checkAgainstReference([.randomCrop(height: 5, width: 5, padding: 0), .randomCrop(height: 4, width: 4, padding: 3)], height: 6, width: 7)
    // A random crop larger than the padded image is the centre crop (zero-filled).
    let small = testBytes(height: 6, width: 7, channels: 3)
    #expect(runChain(TransformChain([.randomCrop(height: 10, width: 10, padding: 1)], mean: [], std: [], lighting: nil), small, height: 6, width: 7, channels: 3)
            == runChain(TransformChain([.centerCrop(height: 10, width: 10)], mean: [], std: [], lighting: nil), small, height: 6, width: 7, channels: 3))
    // The known numbers: a 2x2 centre cut of a 5x5 ramp starts at row 2, column 2 (1.5 rounds to 2).
    let ramp = (0..<25).map { UInt8($0) }
    let out = runChain(TransformChain([.centerCrop(height: 2, width: 2)], mean: [], std: [], lighting: nil), ramp, height: 5, width: 5, channels: 1)
    #expect(maxDifference(out, ReferenceImage(channels: 1, height: 2, width: 2, values: [12, 13, 17, 18].map { $0 / 255 })) < 1e-7)
}

@Test("random crops and flips vary with the sample index, each choice a real crop / mirror of the padded image")
func randomCropAndFlipVary() {
    let (h, w) = (6, 7)
    let bytes = testBytes(height: h, width: w, channels: 1)
    let input = ReferenceImage(interleaved: bytes, height: h, width: w, channels: 1)
    let chain = TransformChain([.randomCrop(height: 4, width: 4, padding: 1), .flip], mean: [], std: [], lighting: nil)
    var seen = Set<[Int]>()
    for index in 0..<64 {
        let out = runChain(chain, bytes, height: h, width: w, channels: 1, index: index)
        var matches: [[Int]] = []
        for top in -1...3 { for left in -1...4 { for mirror in 0...1 {
            var cut = input.crop(top: top, left: left, height: 4, width: 4)
            if mirror == 1 { cut = cut.mirrored() }
            if maxDifference(out, cut) < 1e-6 { matches.append([top, left, mirror]) }
        } } }
        #expect(!matches.isEmpty, "index \(index) is no crop of the padded image")
        seen.formUnion(matches)
    }
    #expect(seen.count > 30, "only \(seen.count) distinct crops in 64 samples")
    #expect(Set(seen.map { $0[2] }) == [0, 1] && Set(seen.map { $0[0] }) == [-1, 0, 1, 2, 3])
}

@Test("flip mirrors left-right with probability about 1/2")
func flipMatchesReference() {
    checkAgainstReference([.flip], height: 3, width: 5)
    let bytes = testBytes(height: 2, width: 3, channels: 1)
    let chain = TransformChain([.flip], mean: [], std: [], lighting: nil)
    let plain = runChain(chain, bytes, height: 2, width: 3, channels: 1, index: 0)
    let flips = (0..<200).filter { runChain(chain, bytes, height: 2, width: 3, channels: 1, index: $0) != plain }.count
    let first = plain.count  // whichever way index 0 went, about half the others differ from it
    #expect(first == 6 && flips > 70 && flips < 130, "\(flips) of 200 differ")
}

@Test("color jitter: factors in [max(0, 1 - v), 1 + v], every order drawn, adjustments as torchvision's on [0, 1] floats")
func colorJitterMatchesReference() {
    let jitter = ColorJitter(brightness: 0.4, contrast: 1.5, saturation: 0)
    var orders = Set<[Int]>()
    for index in 0..<200 {
        var rng = CounterRNG(seed: 1, stream: .augmentation, 0, UInt64(index))
        let d = jitter.draw(&rng)
        #expect(d.brightness.map { $0 >= 0.6 && $0 <= 1.4 } == true && d.contrast.map { $0 >= 0 && $0 <= 2.5 } == true)
        #expect(d.saturation == nil)
        orders.insert([d.order[0], d.order[1], d.order[2]])
    }
    #expect(orders.count == 6 && orders.allSatisfy { Set($0) == [0, 1, 2] })
    // Fixed factors on a known image, against the formulas.
    let draw = ColorJitter.Draw(order: SIMD3(2, 1, 0), brightness: 1.3, contrast: 0.5, saturation: 1.7)
    let image = ReferenceImage(channels: 3, height: 3, width: 4) { c, y, x in Double((c * 5 + y * 7 + x * 3) % 11) / 10 }
    var floats = image.values.map(Float.init)
    draw.apply(to: &floats, channels: 3, plane: 12)
    #expect(maxDifference(floats, image.jittered(draw)) < 1e-6)
    checkAgainstReference([.colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4)], height: 5, width: 6)
    checkAgainstReference([.colorJitter(brightness: 0.4, contrast: 0.9, saturation: 0.4)], height: 5, width: 6, channels: 1)
}

@Test("random_resized_crop picks torchvision's box for fixed draws: first fit, half-to-even sides, centre fallback")
func resizedCropBox() {
    func box(_ h: Int, _ w: Int, _ draws: [Double], scale: ClosedRange<Double> = 0.08...1,
             ratio: ClosedRange<Double> = 0.75...(4.0 / 3)) -> CropBox {
        var next = 0
        return randomResizedCropBox(height: h, width: w, scale: scale, ratio: ratio) {
            defer { next += 1 }
            return draws[next % draws.count]
        }
    }
    // Area 0.08 * 20000 = 1600 at ratio exp(0) = 1: 40x40; top int(0.5 * 61) = 30, left int(0.25 * 161) = 40.
    #expect(box(100, 200, [0, 0.5, 0.5, 0.25]) == CropBox(top: 30, left: 40, height: 40, width: 40))
    // Side sqrt(42.25) = 6.5 rounds to 6 (Python's round).
    #expect(box(10, 10, [0, 0, 0, 0], scale: 0.4225...1, ratio: 1...1) == CropBox(top: 0, left: 0, height: 6, width: 6))
    // Ratio 4/3 at full area: w = round(sqrt(20000 * 4/3)) = 163, h = round(122.47) = 122 > 100, no fit
    // ten times: the fallback cuts the 2:1 image to 4:3, centred.
    #expect(box(100, 200, [0.999999, 0.999999]) == CropBox(top: 0, left: 33, height: 100, width: 133))
    #expect(box(200, 100, [0.999999, 0]) == CropBox(top: 33, left: 0, height: 133, width: 100))
    #expect(box(100, 110, [0.999999, 0.999999]) == CropBox(top: 0, left: 0, height: 100, width: 110))
    checkAgainstReference([.randomResizedCrop(height: 8, width: 7, scale: 0.08...1, ratio: 0.75...(4.0 / 3))], height: 19, width: 25)
}

@Test("lighting adds the PCA shift eigenvectors * (alpha .* eigenvalues) to every pixel, padding added before it included")
func lightingMatchesReference() {
    checkAgainstReference([testLighting], height: 4, width: 5)
    // Padding added before the lighting is lit; padding added after it is zero.
    checkAgainstReference([.randomCrop(height: 5, width: 6, padding: 2), testLighting, .centerCrop(height: 9, width: 9), .flip],
                          height: 4, width: 5, mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3])
    checkAgainstReference([testLighting, .colorJitter(brightness: 0.5, contrast: 0.5, saturation: 0.5), .flip], height: 4, width: 5)
}

@Test("whole chains match the eager reference: AlexNet and ImageNet training recipes, evaluation with normalisation")
func chainsMatchReference() {
    let meanStd = (mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    checkAgainstReference([.resize(.exact(height: 20, width: 20)), .randomCrop(height: 16, width: 16, padding: 0), .flip, testLighting],
                          height: 20, width: 20, mean: meanStd.mean, std: meanStd.std)
    checkAgainstReference([.randomResizedCrop(height: 12, width: 12, scale: 0.08...1, ratio: 0.75...(4.0 / 3)), .flip,
                           .colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4), testLighting],
                          height: 15, width: 20, mean: meanStd.mean, std: meanStd.std)
    checkAgainstReference([.resize(.side(14)), .centerCrop(height: 12, width: 12)], height: 15, width: 20, mean: meanStd.mean, std: meanStd.std)
}

@Test("ten-crop views: 0 centre, 1-4 corners TL, TR, BL, BR, 5-9 the same mirrored, cut at the last centre crop")
func tenCropViews() {
    let ops: [TransformOperation] = [.centerCrop(height: 8, width: 9), .resize(.exact(height: 7, width: 8)), .centerCrop(height: 4, width: 5)]
    for view in 0..<10 { checkAgainstReference(ops, height: 9, width: 11, view: view) }
    // By hand for a ramp: view 2 is the top-right corner, view 7 its mirror.
    let ramp = (0..<20).map { UInt8($0) }
    let chain = TransformChain([.centerCrop(height: 2, width: 2)], mean: [], std: [], lighting: nil)
    let corner = ReferenceImage(channels: 1, height: 2, width: 2, values: [3, 4, 8, 9].map { $0 / 255 })
    #expect(maxDifference(runChain(chain, ramp, height: 4, width: 5, channels: 1, view: 2), corner) < 1e-7)
    #expect(maxDifference(runChain(chain, ramp, height: 4, width: 5, channels: 1, view: 7), corner.mirrored()) < 1e-7)
}

@Test("normalisation is (x / maxValue - mean) / std per channel, after the chain")
func normalisation() {
    let bytes: [UInt8] = [0, 255, 8, 16, 4, 12]  // 1x2 pixels, 3 channels, digits-style maximum 16
    let chain = TransformChain([], mean: [0.5, 0.25, 0], std: [0.5, 2, 4], lighting: nil)
    var out = [Float](repeating: 0, count: 6)
    bytes.withUnsafeBufferPointer { px in
        chain.apply(PixelView(width: 2, height: 1, channels: 3, layout: .interleaved, pixels: px.baseAddress!, maxValue: 16),
                    into: &out, scratch: TransformScratch(), seed: 0, epoch: 0, index: 0)
    }
    // CHW: channel 0 is [0, 16] / 16, channel 1 [255, 4] / 16, channel 2 [8, 12] / 16.
    let expected: [Float] = [(0 - 0.5) / 0.5, (1 - 0.5) / 0.5, (15.9375 - 0.25) / 2, (0.25 - 0.25) / 2, 0.5 / 4, 0.75 / 4]
    #expect(zip(out, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(out)")
}

@Test("the same (seed, epoch, index) gives the same sample with a fresh or a reused scratch; other keys give other draws")
func chainDeterminism() {
    let ops: [TransformOperation] = [.resize(.side(20)), .randomResizedCrop(height: 12, width: 12, scale: 0.08...1, ratio: 0.75...(4.0 / 3)),
                                     .flip, .colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4), testLighting]
    let chain = TransformChain(ops, mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2], lighting: nil)
    let bytes = testBytes(height: 25, width: 31, channels: 3)
    let reused = TransformScratch()
    var samples: [[Float]] = []
    for index in 0..<5 {
        let fresh = runChain(chain, bytes, height: 25, width: 31, channels: 3, index: index)
        // Reuse after a different, larger image so stale contents would show.
        _ = runChain(chain, testBytes(height: 40, width: 40, channels: 3, seed: 9), height: 40, width: 40, channels: 3, scratch: reused)
        #expect(runChain(chain, bytes, height: 25, width: 31, channels: 3, scratch: reused, index: index) == fresh)
        samples.append(fresh)
    }
    #expect(Set(samples).count == 5)
    #expect(runChain(chain, bytes, height: 25, width: 31, channels: 3, epoch: 2) != samples[0])
    #expect(runChain(chain, bytes, height: 25, width: 31, channels: 3, seed: 4) != samples[0])
}

@Test("PCA lighting fitted from decoded images equals the fit of the same images as an ImageSet")
func lightingFitFromImages() {
    let (n, h, w) = (3, 4, 5)
    let bytes = (0..<n).map { testBytes(height: h, width: w, channels: 3, seed: UInt64($0)) }
    let planar = bytes.flatMap { b in (0..<3 * h * w).map { i in b[(i % (h * w)) * 3 + i / (h * w)] } }
    let set = ImageSet(name: "t", count: n, channels: 3, height: h, width: w, pixels: planar,
                       labels: [UInt8](repeating: 0, count: n), maxPixelValue: 255, classes: 1)
    // The pointers stay valid inside the nested closures.
    let all = bytes[0].withUnsafeBufferPointer { a in bytes[1].withUnsafeBufferPointer { b in bytes[2].withUnsafeBufferPointer { c in
        PCALighting.fit([a, b, c].map { PixelView(width: w, height: h, channels: 3, layout: .interleaved, pixels: $0.baseAddress!) })
    } } }
    let reference = PCALighting.fit(set)
    func close(_ a: SIMD3<Float>, _ b: SIMD3<Float>, _ tolerance: Float) -> Bool { (0..<3).allSatisfy { abs(a[$0] - b[$0]) < tolerance } }
    #expect(all.map { close($0.eigenvalues, reference.eigenvalues, 1e-6) } == true)
    // Eigenvectors up to sign.
    #expect(all.map { zip($0.eigenvectors, reference.eigenvectors).allSatisfy { close($0 * $0, $1 * $1, 1e-5) } } == true)
    #expect(PCALighting.fit([PixelView]()) == nil)
}
