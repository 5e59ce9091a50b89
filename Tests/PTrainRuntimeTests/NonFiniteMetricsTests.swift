import Testing
import Foundation
import PTrain
import PTrainData
import PTrainRuntime

// Broken (NaN or infinite) weights must never look good: evaluation scores
// them 0% with a NaN loss, the best-checkpoint rule never prefers them, and
// `ptrain eval` refuses them.

/// An inference network of `tinyConfig`'s model whose every weight is `value`.
private func brokenNetwork(_ value: Float, config: RunConfig) throws -> Network {
    let model = try config.model.build(classes: 4)
    let p = FloatBuffer(count: model.layout.totalCount)
    p.pointer.update(repeating: value, count: p.count)
    return Network(model: model, maxBatch: 16, parameters: p, gradients: nil, seed: 1)
}

@Test("evaluation of NaN or infinite weights: top-1 and top-5 are 0, the loss is NaN",
      arguments: [Float.nan, .infinity])
func evaluatorOnBrokenWeights(_ value: Float) throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let network = try brokenNetwork(value, config: config)
    for tenCrop in [false, true] {
        let r = Evaluator.evaluate([network], on: data.test, tenCrop: tenCrop)
        #expect(r.top1 == 0 && r.top5 == 0 && r.loss.isNaN, "ten-crop \(tenCrop): \(r)")
    }
    let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 2)
    engine.parameters.pointer.update(repeating: value, count: engine.parameters.count)
    let r = engine.evaluateTest(epoch: 0)
    #expect(r.top1 == 0 && r.top5 == 0 && r.loss.isNaN, "\(r)")
}

@Test("a non-finite metric never improves; a finite one always improves on a non-finite best")
func improvesWithNonFinite() {
    for best in [CheckpointConfig.BestMetric.loss, .top1] {
        for bad in [Double.nan, .infinity, -.infinity] {
            #expect(!CheckpointStore.improves(bad, on: nil, best: best), "\(best) \(bad) on nil")
            #expect(!CheckpointStore.improves(bad, on: 0.5, best: best), "\(best) \(bad) on 0.5")
            #expect(!CheckpointStore.improves(bad, on: .nan, best: best), "\(best) \(bad) on nan")
            #expect(CheckpointStore.improves(0.5, on: bad, best: best), "\(best) 0.5 on \(bad)")
        }
    }
}

@Test("ptrain eval refuses NaN weights, naming the first non-finite tensor",
      .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
func evalRefusesNonFiniteWeights() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let configURL = dir.appendingPathComponent("tiny.yaml")
    try tinyConfig.write(to: configURL, atomically: true, encoding: .utf8)
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
    let model = try config.model.build(classes: 4)
    let p = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(p, seed: 1)
    let bias = try #require(model.layout.entries.first { $0.name.hasSuffix(".bias") })
    p.pointer[bias.offset + 1] = .infinity
    let weights = dir.appendingPathComponent("broken.safetensors")
    try Safetensors.encode(model.layout.tensors(from: p.pointer), metadata: [:]).write(to: weights)
    let log = dir.appendingPathComponent("eval.log")
    #expect(try runToEnd(["eval", configURL.path, "--checkpoint", weights.path], log: log) == 1)
    let output = try String(contentsOf: log, encoding: .utf8)
    #expect(output == "error: \(weights.path): the weights are not finite: first non-finite value in \(bias.name)\n")
}
