import Testing
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainRuntime

/// A small conv net on 64 synthetic 1x8x8 images: fast enough for every CI run.
let tinyConfig = """
name: tiny
seed: 3
data: {dataset: synthetic, synthetic_count: 64, synthetic_classes: 4}
model:
  input: [1, 8, 8]
  layers:
    - {type: conv2d, filters: 4, kernel: 3, padding: 1}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: dropout, p: 0.1}
    - {type: dense, units: 4}
train:
  epochs: 30
  batch: 16
  optimizer: {lr: 0.1, momentum: 0.9}
runtime: {shard: 8}
"""

func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ptrain-test-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func train(_ yaml: String, overrides: [String] = [], workers: Int = 1, in dir: URL, tensorboard: Bool = false) throws -> (Trainer, Trainer.Result) {
    let config = try RunConfig.parse(yaml: yaml, file: "tiny.yaml", overrides: overrides)
    let data = try DataSources.load(config)
    let trainer = try Trainer(config: config, directory: try RunDirectory.create(explicit: dir.path, name: config.name),
                              train: data.train, test: data.test, validation: data.validation, architecture: data.architecture,
                              classNames: data.classNames,
                              workers: workers, tensorboard: tensorboard)
    return (trainer, try trainer.run())
}

func lines(_ url: URL) throws -> [[String: Any]] {
    try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
        try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
}

@Test("training lowers the loss, writes metrics, config and loadable weights")
func trainingEndToEnd() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (trainer, result) = try train(tinyConfig, in: dir)
    #expect(result.epochs == 30 && result.steps == 30 * 4)
    let events = try lines(dir.appendingPathComponent("metrics.jsonl"))
    let epochs = events.filter { $0["event"] as? String == "epoch" }
    let evals = events.filter { $0["event"] as? String == "eval" }
    #expect(epochs.count == 30 && evals.count == 30)
    let first = epochs.first!["loss"] as! Double, last = epochs.last!["loss"] as! Double
    #expect(last < 0.5 * first, "training loss \(first) -> \(last)")
    for e in evals {
        for key in ["epoch", "step", "split", "loss", "top1", "elapsed_s"] { #expect(e[key] != nil, "eval line lacks \(key)") }
        #expect(e["split"] as? String == "test")
    }
    // The resolved config reproduces the run's config.
    let resolved = try String(contentsOf: dir.appendingPathComponent("config.yaml"), encoding: .utf8)
    #expect(try RunConfig.parse(yaml: resolved, file: "config.yaml").resolvedYAML == trainer.config.resolvedYAML)
    // The weights file holds exactly the final parameters.
    let file = try Safetensors.decode(try Data(contentsOf: dir.appendingPathComponent("checkpoints/last.safetensors")), file: "last")
    let loaded = FloatBuffer(count: trainer.model.layout.totalCount)
    try trainer.model.layout.load(file.tensors, into: loaded.pointer, file: "last")
    #expect(loaded.array == trainer.parameters.array)
    #expect(file.metadata["step"] == "120")
}

@Test("the same config and seed give bitwise-identical weights; another seed does not")
func reproducible() throws {
    let a = temporaryDirectory(), b = temporaryDirectory(), c = temporaryDirectory()
    defer { [a, b, c].forEach { try? FileManager.default.removeItem(at: $0) } }
    let overrides = ["train.epochs=3"]
    let (ta, _) = try train(tinyConfig, overrides: overrides, in: a)
    let (tb, _) = try train(tinyConfig, overrides: overrides, in: b)
    let (tc, _) = try train(tinyConfig, overrides: overrides + ["seed=4"], in: c)
    #expect(ta.parameters.array == tb.parameters.array)
    #expect(ta.parameters.array != tc.parameters.array)
}

@Test("train.steps stops early; a run directory is never reused")
func stepLimitAndRunDirectory() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (_, result) = try train(tinyConfig, overrides: ["train.steps=6"], in: dir)
    #expect(result.steps == 6 && result.epochs == 2)
    #expect(throws: RunError("\(dir.path): already holds a run (metrics.jsonl exists); choose another --out")) {
        _ = try RunDirectory.create(explicit: dir.path, name: "tiny")
    }
}

/// $PTRAIN_DATA; empty counts as unset, as in DatasetLocator.
let dataDirectory = ProcessInfo.processInfo.environment["PTRAIN_DATA"].flatMap { $0.isEmpty ? nil : $0 }

@Test("the shipped digits configs train to sensible accuracy on real data",
      .enabled(if: dataDirectory != nil, "PTRAIN_DATA not set: real-data training tests need the datasets (see README, Data)"))
func digitsConfigsTrain() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for (file, minimum) in [("mlp-digits.yaml", 0.88), ("logistic-digits.yaml", 0.93)] {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try RunConfig.load(file: root.appendingPathComponent("configs/\(file)").path)
        let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
        let trainer = try Trainer(config: config, directory: try RunDirectory.create(explicit: dir.path, name: config.name),
                                  train: data.train, test: data.test, workers: 2)
        let result = try trainer.run()
        #expect(result.finalEval.top1 >= minimum, "\(file): test top-1 \(result.finalEval.top1)")
    }
}

@Test("every shipped config passes check", arguments: ["lenet5-mnist.yaml", "mlp-digits.yaml", "logistic-digits.yaml"])
func shippedConfigsAreValid(_ file: String) throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let config = try RunConfig.load(file: root.appendingPathComponent("configs/\(file)").path)
    #expect(try config.model.build().parameterCount > 0)
}

@Test("AlexNet (2012, grouped) and its ablations have the hand-computed parameter counts",
      arguments: [("alexnet-imagenet.yaml", 60_965_224), ("ablations/alexnet-no-fc7.yaml", 44_183_912),
                  ("ablations/alexnet-no-fc6-fc7.yaml", 11_551_080), ("ablations/alexnet-no-conv3-conv4.yaml", 59_268_712)])
func alexnetParameterCounts(_ c: (file: String, params: Int)) throws {
    // conv1 96*3*11*11+96 = 34,944; conv2 256*48*25+256 = 307,456; conv3 384*256*9+384 = 885,120;
    // conv4 384*192*9+384 = 663,936; conv5 256*192*9+256 = 442,624 (295,168 on conv2's 256 channels);
    // fc6 9216*4096+4096 = 37,752,832; fc7 4096*4096+4096 = 16,781,312; fc8 4096*1000+1000 = 4,097,000
    // (9,217,000 straight from the 9216 pooled features).
    let config = try RunConfig.load(file: packageRoot.appendingPathComponent("configs/\(c.file)").path)
    #expect(try config.model.build().parameterCount == c.params)
}

@Test("the searched CIFAR AlexNet has Hyperband's widths: 32 and 96 filters, fc6 of 256")
func searchedAlexNetParameterCount() throws {
    // conv1 32*3*25+32 = 2,432; conv2 96*32*25+96 = 76,896; fc6 (96*6*6)*256+256 = 884,992;
    // fc7 256*192+192 = 49,344; fc8 192*10+10 = 1,930.
    let config = try RunConfig.load(file: packageRoot.appendingPathComponent("configs/alexnet-cifar-searched.yaml").path)
    #expect(try config.model.build().parameterCount == 1_015_594)
}

@Test("base: inheritance merges over the base file; remove_layers drops named layers and rejects unknown names")
func configInheritance() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    try tinyConfig.replacingOccurrences(of: "{type: dropout, p: 0.1}", with: "{name: drop, type: dropout, p: 0.1}")
        .write(to: dir.appendingPathComponent("base.yaml"), atomically: true, encoding: .utf8)
    try "base: base.yaml\nseed: 9\ntrain: {epochs: 7}\nmodel: {remove_layers: [drop]}\n"
        .write(to: dir.appendingPathComponent("child.yaml"), atomically: true, encoding: .utf8)
    let child = try RunConfig.load(file: dir.appendingPathComponent("child.yaml").path)
    #expect(child.seed == 9 && child.train.epochs == 7 && child.train.batch == 16)  // batch from the base
    #expect(try child.model.build().layers.map(\.typeName) == ["conv2d", "relu", "maxpool", "flatten", "dense"])
    try "base: base.yaml\nmodel: {remove_layers: [nope]}\n".write(to: dir.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
    #expect(throws: ConfigError.self) { _ = try RunConfig.load(file: dir.appendingPathComponent("bad.yaml").path) }
    try "base: missing.yaml\n".write(to: dir.appendingPathComponent("orphan.yaml"), atomically: true, encoding: .utf8)
    do { _ = try RunConfig.load(file: dir.appendingPathComponent("orphan.yaml").path) } catch let e as ConfigError {
        #expect(e.description.contains("base: cannot read the base config"))
    }
}
