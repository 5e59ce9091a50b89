import Foundation
import PTrain
import PTrainData
import PTrainRuntime
import Testing

/// A small image folder: classes `a`, `b`, `c`, `perClass` images each in
/// `train/` and 4 each in `test/` (and `val/` when asked), of varying sizes
/// (20..39 px), PNG and JPEG alternately. Class k's images lean to colour
/// channel k, so a small net can learn them. Returns the root.
@discardableResult
func makeImageFolder(_ root: URL, perClass: Int = 12, splits: [String] = ["train", "test"]) throws -> URL {
    var rng = CounterRNG(seed: 99, stream: .synthetic)
    for split in splits {
        for (k, name) in ["a", "b", "c"].enumerated() {
            let folder = root.appendingPathComponent(split).appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<(split == "train" ? perClass : 4) {
                let w = 20 + rng.below(20), h = 20 + rng.below(20)
                let pixels = (0..<(w * h * 3)).map { j in UInt8(min(255, rng.below(120) + (j % 3 == k ? 120 : 0))) }
                let image = Image8(width: w, height: h, channels: 3, pixels: pixels)
                let png = i % 2 == 0
                let bytes = png ? try ImageEncoder.png(image) : try ImageEncoder.jpeg(image, quality: 90)
                try Data(bytes).write(to: folder.appendingPathComponent(String(format: "%03d.%@", i, png ? "png" : "jpg")))
            }
        }
    }
    return root
}

/// `data.transforms` with every training transform on.
/// (Spliced into `folderConfig` after two spaces of indentation; removable whole.)
let trainTransforms = "transforms:\n    - {type: resize, size: 24}\n    - {type: random_resized_crop, size: 16, scale: [0.3, 1.0]}\n"
    + "    - {type: flip}\n    - {type: color_jitter, brightness: 0.3, contrast: 0.3, saturation: 0.3}\n"
    + "    - {type: lighting, alphastd: 0.1}\n  "

/// A conv net on 3x16x16 inputs over an image folder, with every transform on.
func folderConfig(_ root: URL, extra: String = "") -> String {
    """
    name: folder
    seed: 5
    data:
      dataset: folder
      path: \(root.path)
      normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}
      \(trainTransforms)eval_transforms:
        - {type: resize, size: 18}
        - {type: center_crop, size: 16}
    \(extra)
    model:
      input: [3, 16, 16]
      layers:
        - {type: conv2d, filters: 8, kernel: 3, padding: 1}
        - {type: relu}
        - {type: maxpool, kernel: 2}
        - {type: flatten}
        - {type: dense, units: 3}
    train:
      epochs: 3
      batch: 8
      optimizer: {lr: 0.05, momentum: 0.9}
    runtime: {shard: 2, bind: none}
    """
}

private func trainFolder(_ yaml: String, workers: Int, in dir: URL) throws -> (Trainer.Result, [Float]) {
    let config = try RunConfig.parse(yaml: yaml, file: "folder.yaml")
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let trainer = try Trainer(config: config, directory: try RunDirectory.create(explicit: dir.path, name: config.name),
                              train: data.train, test: data.test, validation: data.validation, classNames: data.classNames,
                              workers: workers)
    let result = try trainer.run()
    let p = trainer.engine.parameters
    return (result, Array(UnsafeBufferPointer(start: p.pointer, count: p.count)))
}

@Suite("Image-folder datasets", .serialized)
struct FolderDatasetTests {
    @Test func sameWeightsForOneAndTwoWorkersWithEveryTransformAndASkippedBadImage() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = try makeImageFolder(dir.appendingPathComponent("images"))
        // A truncated JPEG among the training images, skipped (the same substitute on every worker).
        let bad = root.appendingPathComponent("train/b/zz-truncated.jpg")
        let good = try Data(contentsOf: root.appendingPathComponent("train/b/001.jpg"))
        try good.prefix(good.count / 2).write(to: bad)
        let yaml = folderConfig(root, extra: "  validation: 0.25\n  on_bad_image: skip")
        let (one, a) = try trainFolder(yaml, workers: 1, in: dir.appendingPathComponent("w1"))
        let (two, b) = try trainFolder(yaml, workers: 2, in: dir.appendingPathComponent("w2"))
        #expect(a == b, "weights differ between 1 and 2 workers")
        #expect(one.finalEval.top1 == two.finalEval.top1 && one.finalTest.top1 == two.finalTest.top1)
        #expect(one.finalEval.count == 9 && one.finalTest.count == 12)  // 37 train images, 9 held out
        let epochs = try lines(dir.appendingPathComponent("w1/metrics.jsonl")).filter { $0["event"] as? String == "epoch" }
        let skipped = epochs.map { $0["bad_images"] as? Int ?? -1 }
        #expect(skipped.allSatisfy { $0 >= 0 } && skipped.reduce(0, +) >= 1, "bad_images per epoch: \(skipped)")
        let classes = try String(contentsOf: dir.appendingPathComponent("w1/classes.txt"), encoding: .utf8)
        #expect(classes == "a\nb\nc\n")
        // ... and into every checkpoint's state.
        let checkpoints = dir.appendingPathComponent("w1/checkpoints")
        let last = try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).filter { $0.hasPrefix("step-") }.sorted().last!
        #expect(try Checkpoint.read(checkpoints.appendingPathComponent(last)).state.classNames == ["a", "b", "c"])
    }

    @Test func aBadImageStopsTheRunWithOneErrorNamingTheFile() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = try makeImageFolder(dir.appendingPathComponent("images"))
        let bad = root.appendingPathComponent("train/a/zz-not-an-image.png")
        try Data("GIF89a not really".utf8).write(to: bad)
        do {
            _ = try trainFolder(folderConfig(root), workers: 2, in: dir.appendingPathComponent("run"))
            Issue.record("training on a folder with a bad image succeeded")
        } catch let e as DataError {
            #expect(e.description == "\(bad.path): not a JPEG or PNG image (first bytes 47 49 46 38)")
        }
    }

    @Test func inMemoryAndImageFileCopiesGiveTheSameSamples() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Four 3x20x20 images held in memory (planar) and written as PNG (lossless).
        var rng = CounterRNG(seed: 4, stream: .synthetic)
        let pixels = (0..<(4 * 3 * 400)).map { _ in UInt8(rng.below(256)) }
        let images = ImageSet(name: "m/train", count: 4, channels: 3, height: 20, width: 20, pixels: pixels,
                              labels: [UInt8]([0, 1, 0, 1]), maxPixelValue: 255, classes: 2)
        var paths: [String] = []
        for i in 0..<4 {
            let plane = Array(images.image(i))
            let interleaved = (0..<1200).map { j in plane[(j % 3) * 400 + j / 3] }
            let url = dir.appendingPathComponent("\(i).png")
            try Data(try ImageEncoder.png(Image8(width: 20, height: 20, channels: 3, pixels: interleaved))).write(to: url)
            paths.append(url.path)
        }
        let files = ImageFileList(name: "f/train", paths: paths, labels: images.labels, classNames: ["0", "1"])
        let config = try RunConfig.parse(yaml: folderConfig(dir), file: "folder.yaml")
        let chain = TransformChain(config.data.transforms, mean: config.data.mean, std: config.data.std,
                                   lighting: PCALighting.fit(images))
        let shape = TensorShape(3, 16, 16)
        let memory = SampleSet(source: .memory(images), chain: chain, shape: shape, binaryTarget: nil, limit: nil, onBadImage: .error)
        let disk = SampleSet(source: .files(files, channels: 3), chain: chain, shape: shape, binaryTarget: nil, limit: nil, onBadImage: .error)
        let a = FloatBuffer(count: 4 * shape.count), b = FloatBuffer(count: 4 * shape.count)
        let la = Int32Buffer(count: 4), lb = Int32Buffer(count: 4)
        for epoch in 0..<3 {
            memory.fill(0..<4, input: a.pointer, labels: la.pointer, epoch: epoch, seed: 9)
            disk.fill(0..<4, input: b.pointer, labels: lb.pointer, epoch: epoch, seed: 9)
            #expect(Array(UnsafeBufferPointer(start: a.pointer, count: a.count)) == Array(UnsafeBufferPointer(start: b.pointer, count: b.count)))
            #expect(Array(UnsafeBufferPointer(start: la.pointer, count: 4)) == [0, 1, 0, 1])
        }
        #expect(disk.failures.error == nil)
    }

    @Test func namedValidationSplitAndClassMismatch() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = try makeImageFolder(dir.appendingPathComponent("images"), perClass: 4, splits: ["train", "val", "test"])
        let config = try RunConfig.parse(yaml: folderConfig(root, extra: "  validation: val"), file: "folder.yaml")
        let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
        #expect(data.train.count == 12 && data.validation?.count == 12 && data.test.count == 12)
        #expect(data.validation?.name == "images/val" && data.test.name == "images/test")
        #expect(data.classNames == ["a", "b", "c"])
        // Without test/, val/ is the test split; a class missing from train is an error.
        try FileManager.default.removeItem(at: root.appendingPathComponent("test"))
        let plain = try RunConfig.parse(yaml: folderConfig(root), file: "folder.yaml")
        #expect(try DataSources.load(plain.data, model: plain.model, seed: 1).test.name == "images/val")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("val/d"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("val/a/000.png"), to: root.appendingPathComponent("val/d/000.png"))
        #expect(throws: DataError("images/val: its classes differ from images/train's: d not in images/train; every split needs the same class folders")) {
            try DataSources.load(plain.data, model: plain.model, seed: 1)
        }
    }

    @Test func aDataPathThatIsNotAFolderIsOneError() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("images.tar")
        try Data("x".utf8).write(to: file)
        for (path, what) in [(file.path, "it is not a folder"), (dir.appendingPathComponent("missing").path, "it does not exist")] {
            let config = try RunConfig.parse(yaml: folderConfig(URL(fileURLWithPath: path)), file: "folder.yaml")
            #expect(throws: DataError("\(path): data.path of a folder dataset must be a folder holding train/ and test/ (or val/); \(what)")) {
                try DataSources.load(config.data, model: config.model, seed: 1)
            }
        }
    }

    @Test func folderConfigsWithoutTransformsOrWithAVariableSizeAreRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = try makeImageFolder(dir.appendingPathComponent("images"), perClass: 2)
        let bare = folderConfig(root).replacingOccurrences(of: trainTransforms, with: "")
        let noTransforms = try RunConfig.parse(yaml: bare, file: "folder.yaml")
        #expect(throws: ConfigError("data.transforms: a folder dataset needs transforms that bring every image to the model's input size 16x16, e.g. [{type: resize, size: 16}, {type: center_crop, size: 16}] (data.transforms and data.eval_transforms both)")) {
            try DataSources.load(noTransforms.data, model: noTransforms.model, seed: 1)
        }
        let variable = try RunConfig.parse(yaml: folderConfig(root).replacingOccurrences(of: "- {type: center_crop, size: 16}", with: "- {type: flip}"), file: "folder.yaml")
        #expect(throws: ConfigError("data.eval_transforms: the images' size decides the output size (480x640 gives 18x24, 333x250 gives 23x18); end with a crop or a resize to a fixed height and width")) {
            try DataSources.load(variable.data, model: variable.model, seed: 1)
        }
    }

    @Test func predictNamesTheTopClassesOfImageFiles() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = try makeImageFolder(dir.appendingPathComponent("images"))
        let yaml = folderConfig(root)
        let configURL = dir.appendingPathComponent("folder.yaml")
        try yaml.write(to: configURL, atomically: true, encoding: .utf8)
        _ = try trainFolder(yaml, workers: 1, in: dir.appendingPathComponent("run"))
        let weights = dir.appendingPathComponent("run/checkpoints/last.safetensors").path
        let images = ["test/a/000.png", "test/c/001.jpg"].map { root.appendingPathComponent($0).path }
        let log = dir.appendingPathComponent("predict.log")
        #expect(try runToEnd(["predict", configURL.path, "--checkpoint", weights, "--top", "2", "--json"] + images, log: log) == 0)
        let rows = try lines(log)
        #expect(rows.count == 2)
        // The same probabilities as an in-process evaluation of the same weights and transforms.
        let config = try RunConfig.parse(yaml: yaml, file: "folder.yaml")
        let model = try config.model.build(classes: 3)
        let parameters = FloatBuffer(count: model.layout.totalCount)
        try model.layout.load(try Safetensors.decode(Data(contentsOf: URL(fileURLWithPath: weights)), file: weights).tensors,
                              into: parameters.pointer, file: weights)
        let network = Network(model: model, maxBatch: 8, parameters: parameters, gradients: nil, seed: 1)
        let expected = Evaluator.probabilities([network], on: try PredictionImages.set(images, config: config.data, model: config.model))
        for (row, (path, p)) in zip(rows, zip(images, expected)) {
            #expect(row["image"] as? String == path)
            let top = row["top"] as! [[String: Any]]
            let best = p.indices.max { p[$0] < p[$1] }!
            #expect(top.count == 2 && top[0]["class"] as? String == ["a", "b", "c"][best] && top[0]["label"] as? Int == best)
            #expect(abs((top[0]["probability"] as! Double) - Double(p[best])) < 1e-5)
        }
        // A file that is not an image: one error naming it, exit 1.
        let notImage = dir.appendingPathComponent("notes.jpg")
        try Data("hello".utf8).write(to: notImage)
        let errors = dir.appendingPathComponent("predict-error.log")
        #expect(try runToEnd(["predict", configURL.path, "--checkpoint", weights, notImage.path], log: errors) == 1)
        let text = try String(contentsOf: errors, encoding: .utf8)
        #expect(text == "error: \(notImage.path): not a JPEG or PNG image (first bytes 68 65 6C 6C)\n")
    }
}
