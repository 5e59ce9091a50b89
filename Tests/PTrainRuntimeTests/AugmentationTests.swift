import Testing
import Foundation
import PTrain
import PTrainData
import PTrainRuntime

/// 3x6x8 images whose pixel value encodes (channel, y, x): 80c + 10y + x.
func codedImages(count: Int) throws -> ImageSet {
    var pixels: [UInt8] = []
    for _ in 0..<count { for c in 0..<3 { for y in 0..<6 { for x in 0..<8 { pixels.append(UInt8(80 * c + 10 * y + x)) } } } }
    return ImageSet(name: "coded", count: count, channels: 3, height: 6, width: 8, pixels: pixels,
                        labels: (0..<count).map { UInt8($0 % 10) }, maxPixelValue: 255, classes: 10)
}

/// The crop as pixel codes (undoing the [0, 1] scaling).
func fillCodes(_ set: SampleSet, index: Int, epoch: Int = 0, seed: UInt64 = 1, view: Int = 0) -> [Int] {
    var input = [Float](repeating: .nan, count: set.shape.count)
    var label: Int32 = -1
    input.withUnsafeMutableBufferPointer { buf in
        set.fill([index], input: buf.baseAddress!, labels: &label, epoch: epoch, seed: seed, view: view)
    }
    return input.map { Int(($0 * 255).rounded()) }
}

@Test("centre crop and the ten-crop views cut the hand-computed pixels")
func cropViews() throws {
    let set = SampleSet(images: try codedImages(count: 2), mean: [], std: [], binaryTarget: nil, limit: nil, crop: (4, 4))
    #expect(set.shape == TensorShape(3, 4, 4))
    // Centre of 6x8 at 4x4: rows 1..4, columns 2..5.
    let centre = fillCodes(set, index: 0, view: 0)
    #expect(Array(centre[0..<4]) == [12, 13, 14, 15] && centre[15] == 45 && centre[16] == 92)
    #expect(fillCodes(set, index: 0, view: 1)[0..<4] == [0, 1, 2, 3])       // top-left
    #expect(fillCodes(set, index: 0, view: 2)[0..<4] == [4, 5, 6, 7])       // top-right
    #expect(fillCodes(set, index: 0, view: 3)[0..<4] == [20, 21, 22, 23])   // bottom-left
    #expect(fillCodes(set, index: 0, view: 4)[12..<16] == [54, 55, 56, 57]) // bottom-right, last row
    #expect(fillCodes(set, index: 0, view: 5)[0..<4] == [15, 14, 13, 12])   // centre mirrored
    #expect(fillCodes(set, index: 0, view: 6)[0..<4] == [3, 2, 1, 0])       // top-left mirrored
}

@Test("random crops and flips are keyed by (seed, epoch, sample), stay inside the padded image, and pad with zeros")
func augmentationDeterminism() throws {
    let aug = Augmentation(randomCrop: true, padding: 2, flip: true)
    let set = SampleSet(images: try codedImages(count: 4), mean: [], std: [], binaryTarget: nil, limit: nil, crop: (4, 4),
                        augmentation: aug)
    #expect(fillCodes(set, index: 1, epoch: 3) == fillCodes(set, index: 1, epoch: 3))
    var distinct = Set<[Int]>()
    var flips = 0, padded = 0
    for epoch in 0..<60 {
        let codes = fillCodes(set, index: 2, epoch: epoch)
        distinct.insert(codes)
        let d = aug.draw(seed: 1, epoch: epoch, index: 2, image: (6, 8), crop: (4, 4))
        #expect((-2...4).contains(d.offsetY) && (-2...6).contains(d.offsetX))
        if d.flip { flips += 1 }
        // Every pixel is either a zero pad or the image pixel the draw selects.
        for y in 0..<4 { for x in 0..<4 {
            let sy = y + d.offsetY, sx = (d.flip ? 3 - x : x) + d.offsetX
            let inside = sy >= 0 && sy < 6 && sx >= 0 && sx < 8
            if !inside { padded += 1 }
            #expect(codes[y * 4 + x] == (inside ? 10 * sy + sx : 0))
        } }
    }
    #expect(distinct.count > 20 && flips > 15 && flips < 45 && padded > 0)
}

@Test("PCA lighting: Jacobi eigen-decomposition of the RGB covariance, and per-sample shifts along it")
func pcaLighting() throws {
    // Channels perfectly correlated (r = g = b): one eigenvector (1,1,1)/sqrt(3) carries all the variance.
    var pixels: [UInt8] = []
    for i in 0..<50 { let v = UInt8((i * 37) % 256); for _ in 0..<3 { pixels += [UInt8](repeating: v, count: 4) } }
    let gray = ImageSet(name: "gray-rgb", count: 50, channels: 3, height: 2, width: 2, pixels: pixels,
                            labels: [UInt8](repeating: 0, count: 50), maxPixelValue: 255, classes: 1)
    let pca = PCALighting.fit(gray)
    #expect(pca.eigenvalues[0] > 0.01 && abs(pca.eigenvalues[1]) < 1e-6 && abs(pca.eigenvalues[2]) < 1e-6)
    let first = SIMD3(pca.eigenvectors[0][0], pca.eigenvectors[1][0], pca.eigenvectors[2][0])
    #expect(abs(abs(first.sum()) - 3.0.squareRoot().magnitude.float) < 1e-4)
    // Shifts are equal on all channels (only the first component has variance) and keyed by sample.
    let aug = Augmentation(lightingStd: 0.1, lighting: pca)
    let d = aug.draw(seed: 1, epoch: 0, index: 5, image: (2, 2), crop: (2, 2))
    #expect(abs(d.channelShift[0] - d.channelShift[1]) < 1e-6 && abs(d.channelShift[1] - d.channelShift[2]) < 1e-6)
    #expect(d.channelShift[0] != 0)
    #expect(aug.draw(seed: 1, epoch: 0, index: 5, image: (2, 2), crop: (2, 2)).channelShift == d.channelShift)
}

extension Double { var float: Float { Float(self) } }

let rgbConfig = """
name: rgb
seed: 2
data:
  dataset: synthetic
  synthetic_count: 64
  synthetic_classes: 10
  crop: 6
  augment: [{type: random_crop, padding: 1}, {type: flip}]
  eval_views: ten_crop
model:
  input: [3, 6, 6]
  layers:
    - {type: conv2d, filters: 4, kernel: 3, padding: 1}
    - {type: relu}
    - {type: flatten}
    - {type: dropout, p: 0.2}
    - {type: dense, units: 10}
train: {epochs: 2, batch: 16, optimizer: {lr: 0.05, momentum: 0.9}}
runtime: {shard: 2, bind: none}
"""

@Test("augmented training is bitwise identical for 1, 2 and 3 workers; ten-crop evaluation averages ten views")
func augmentedRunsAcrossWorkers() throws {
    // Synthetic images are generated at the model input's shape; a crop smaller than it is needed here.
    let config = try RunConfig.parse(yaml: rgbConfig.replacingOccurrences(of: "crop: 6", with: "crop: 5")
        .replacingOccurrences(of: "input: [3, 6, 6]", with: "input: [3, 5, 5]"), file: "rgb.yaml")
    let images = try SyntheticImages.make(name: "rgb", shape: TensorShape(3, 6, 6), count: 64, classes: 10, seed: 1)
    let aug = Augmentation(randomCrop: true, padding: 1, flip: true)
    let train = SampleSet(images: images, mean: [], std: [], binaryTarget: nil, limit: nil, crop: (5, 5), augmentation: aug)
    let test = SampleSet(images: images, mean: [], std: [], binaryTarget: nil, limit: nil, crop: (5, 5))
    var weights: [[Float]] = []
    for workers in [1, 2, 3] {
        let engine = try DataParallelEngine(config: config, train: train, test: test, workers: workers)
        for epoch in 0..<2 {
            engine.beginEpoch(epoch)
            #expect(engine.steps(first: 0, count: engine.stepsPerEpoch, learningRate: { _ in 0.05 }).completed == 4)
        }
        weights.append(engine.parameters.array)
        let centre = engine.evaluateTest(epoch: 2), ten = engine.evaluateTest(epoch: 2, tenCrop: true)
        #expect(centre.top1 >= 0 && centre.top1 <= 1 && centre.top5 >= centre.top1 && ten.top5 >= ten.top1)
        #expect(centre.loss != ten.loss, "ten views must change the averaged probabilities")
    }
    #expect(weights[0] == weights[1] && weights[0] == weights[2])
}

@Test("augmentation config errors")
func augmentationConfigErrors() throws {
    #expect(configErrorText(rgbConfig.replacingOccurrences(of: "{type: flip}", with: "{type: rotate}"))
            == "rgb.yaml:8:53: data.augment[1].type: expected one of: random_crop, flip, lighting, found 'rotate'")
    #expect(configErrorText(rgbConfig.replacingOccurrences(of: "{type: flip}", with: "{type: random_crop}"))
            == "rgb.yaml:8:46: data.augment[1]: augmentation 'random_crop' is listed twice")
    let big = try RunConfig.parse(yaml: rgbConfig.replacingOccurrences(of: "crop: 6", with: "crop: 9"), file: "rgb.yaml")
    #expect(throws: ConfigError("data.crop: 9x9 crops do not fit the 6x6 images of synthetic/train")) {
        _ = try DataSources.load(big.data, model: big.model, seed: big.seed)
    }
}

func configErrorText(_ yaml: String) -> String? {
    do { _ = try RunConfig.parse(yaml: yaml, file: "rgb.yaml"); return nil } catch { return "\(error)" }
}

@Test("model ensembles average the models' softmax probabilities")
func ensembleEvaluation() throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let networks = try [11, 12].map { seed -> Network in
        let model = try config.model.build(classes: 4)
        let p = FloatBuffer(count: model.layout.totalCount)
        model.layout.initialize(p, seed: UInt64(seed))
        return Network(model: model, maxBatch: 16, parameters: p, gradients: nil, seed: 1)
    }
    let single = Evaluator.evaluate([networks[0]], on: data.test)
    #expect(Evaluator.evaluate([networks[0], networks[0]], on: data.test).loss == single.loss)
    // By hand: average the two models' softmax outputs, then score.
    let a = modelOutputs(networks[0], on: data.test), b = modelOutputs(networks[1], on: data.test)
    var loss = 0.0, correct = 0
    for i in 0..<data.test.count {
        func softmax(_ z: [Float]) -> [Double] { let m = z.max()!; let e = z.map { exp(Double($0 - m)) }; let s = e.reduce(0, +); return e.map { $0 / s } }
        let p = zip(softmax(a[i]), softmax(b[i])).map { ($0 + $1) / 2 }
        let label = Int(data.test.label(i))
        loss -= log(p[label])
        if p.indices.max(by: { p[$0] < p[$1] }) == label { correct += 1 }
    }
    let both = Evaluator.evaluate(networks, on: data.test)
    #expect(abs(both.loss - loss / Double(data.test.count)) < 1e-5)
    #expect(both.top1 == Double(correct) / Double(data.test.count))
}

@Test("crops 16 pixels wide or more (16 at a time, mirrored too) give the scalar formula's bits: views, random crops inside the image, mean and std")
func wideCropsMatchTheScalarFormula() throws {
    // 3 x 24 x 41 images, crops of 21 x 37 (two 16-pixel groups and 5 more per row).
    var pixels: [UInt8] = []
    for n in 0..<3 { for c in 0..<3 { for y in 0..<24 { for x in 0..<41 { pixels.append(UInt8((7 * n + 31 * c + 13 * y + 5 * x) % 256)) } } } }
    let images = ImageSet(name: "wide", count: 3, channels: 3, height: 24, width: 41, pixels: pixels,
                          labels: [UInt8]([0, 1, 2]), maxPixelValue: 255, classes: 3)
    let mean: [Float] = [0.49, 0.48, 0.45], std: [Float] = [0.25, 0.24, 0.26]
    func expected(_ index: Int, offsetY: Int, offsetX: Int, flip: Bool) -> [Float] {
        var out: [Float] = []
        for c in 0..<3 {
            let s = 1 / (255 * std[c]), o = -mean[c] / std[c]
            for y in 0..<21 { for x in 0..<37 {
                let sx = (flip ? 36 - x : x) + offsetX
                out.append(Float(pixels[((index * 3 + c) * 24 + y + offsetY) * 41 + sx]) * s + o)
            } }
        }
        return out
    }
    func fill(_ set: SampleSet, _ index: Int, epoch: Int = 0, view: Int = 0) -> [Float] {
        var input = [Float](repeating: .nan, count: set.shape.count)
        var label: Int32 = -1
        input.withUnsafeMutableBufferPointer { set.fill([index], input: $0.baseAddress!, labels: &label, epoch: epoch, seed: 1, view: view) }
        return input
    }
    func same(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern } }
    let views = SampleSet(images: images, mean: mean, std: std, binaryTarget: nil, limit: nil, crop: (21, 37))
    // Centre (rows 1.., columns 2..), top-left, bottom-right, and the same mirrored.
    for (index, view, offsetY, offsetX, flip) in [(1, 0, 1, 2, false), (2, 1, 0, 0, false), (0, 4, 3, 4, false),
                                                  (1, 5, 1, 2, true), (2, 9, 3, 4, true)] {
        let ok = same(fill(views, index, view: view), expected(index, offsetY: offsetY, offsetX: offsetX, flip: flip))
        #expect(ok, "image \(index) view \(view)")
    }
    let aug = Augmentation(randomCrop: true, padding: 0, flip: true)
    let random = SampleSet(images: images, mean: mean, std: std, binaryTarget: nil, limit: nil, crop: (21, 37), augmentation: aug)
    var flips = 0
    for epoch in 0..<12 {
        let d = aug.draw(seed: 1, epoch: epoch, index: 1, image: (24, 41), crop: (21, 37))
        if d.flip { flips += 1 }
        let ok = same(fill(random, 1, epoch: epoch), expected(1, offsetY: d.offsetY, offsetX: d.offsetX, flip: d.flip))
        #expect(ok, "epoch \(epoch)")
    }
    #expect(flips > 0 && flips < 12)
}
