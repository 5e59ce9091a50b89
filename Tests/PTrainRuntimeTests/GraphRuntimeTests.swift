import Testing
import Foundation
import PTrain
import PTrainData
import PTrainReporting
import PTrainRuntime

// Graph models with batch norm in the data-parallel runtime: per-shard
// statistics keep the weights (running statistics included) bitwise
// identical for any worker count, and the step allocates nothing.

let tinyResidualConfig = """
name: tiny-residual
seed: 4
data: {dataset: synthetic, synthetic_count: 64, synthetic_classes: 4}
model:
  input: [1, 8, 8]
  blocks:
    res:
      params: {channels: ~, stride: 1}
      layers:
        - {name: conv1, type: conv2d, filters: $channels, kernel: 3, stride: $stride, padding: 1, bias: false}
        - {name: bn1, type: batchnorm}
        - {name: relu1, type: relu}
        - {name: shortcut, type: shortcut, input: in, channels: $channels, stride: $stride}
        - {name: add, type: add, inputs: [relu1, shortcut]}
    dense:
      layers:
        - {name: bn, type: batchnorm}
        - {name: conv, type: conv2d, filters: 2, kernel: 3, padding: 1}
        - {name: cat, type: concat, inputs: [in, conv]}
  layers:
    - {name: stem, type: conv2d, filters: 4, kernel: 3, padding: 1}
    - {name: stage, block: res, repeat: 2, with: {channels: 16}, first: {stride: 2}}  # 16: the second conv1 runs Winograd
    - {name: grow, block: dense, repeat: 2}
    - {name: pool, type: global_avgpool}
    - {name: fc, type: dense, units: 4}
train:
  epochs: 2
  batch: 16
  optimizer: {lr: 0.1, momentum: 0.9}
runtime: {shard: 2, bind: none}
"""

@Test("batch norm graph model: weights and running statistics bitwise identical for 1, 2, 4 workers (static and dynamic)")
func graphBitwiseAcrossWorkers() throws {
    var weights: [[Float]] = []
    var statistics: [Float] = []
    for (workers, schedule) in [(1, "static"), (2, "static"), (4, "static"), (2, "dynamic"), (3, "dynamic")] {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (trainer, result) = try train(tinyResidualConfig, overrides: ["runtime.schedule=\(schedule)"], workers: workers, in: dir)
        #expect(result.steps == 8)
        weights.append(trainer.parameters.array)
        if statistics.isEmpty {
            let model = try RunConfig.parse(yaml: tinyResidualConfig, file: "t.yaml").model.build()
            let mean = model.layout.entries.first { $0.name == "stage.0.bn1.running_mean" }!
            statistics = Array(trainer.parameters.array[mean.range])
        }
    }
    let layout = try RunConfig.parse(yaml: tinyResidualConfig, file: "t.yaml").model.build().layout
    for i in 1..<weights.count {
        // Name the first differing tensor rather than print two arenas.
        let first = weights[0].indices.first { weights[0][$0] != weights[i][$0] }
        let tensor = first.flatMap { f in layout.entries.first { $0.range.contains(f) }?.name }
        #expect(first == nil, "run \(i) differs from 1 static worker, first in \(tensor ?? "padding")")
    }
    // The running statistics moved away from their initial zeros.
    #expect(statistics.contains { $0 != 0 })
}

@Test("no heap allocation inside training steps of a graph model with batch norm and concat, or with mixed edges (2 workers)",
      arguments: [nil, "search/darts-cell-tiny.yaml"])
func graphNoAllocationInSteps(_ file: String?) throws {
    let config = try file.map { try RunConfig.load(file: packageRoot.appendingPathComponent("configs/\($0)").path) }
        ?? RunConfig.parse(yaml: tinyResidualConfig, file: "tiny.yaml", overrides: ["train.epochs=20"])
    try expectNoAllocationInSteps(config, workers: 2, session: 977)
}

@Test("deeper architectures have their published parameter counts", arguments: [
    ("resnet20.yaml", 269_722), ("resnet20-projection.yaml", 272_474), ("resnet32.yaml", 464_154), ("resnet44.yaml", 658_586), ("resnet56.yaml", 853_018),
    ("plain20.yaml", 269_722), ("plain56.yaml", 853_018), ("bench/resnet20.yaml", 269_722),
    ("densenet-bc-100.yaml", 769_162), ("inception-cifar.yaml", 564_402), ("conv1d-mnist.yaml", 166_218), ("local2d-mnist.yaml", 357_546),
])
func deepParameterCounts(_ c: (file: String, params: Int)) throws {
    // Projection shortcuts add 32*16 + 64 and 64*32 + 128. ResNet (option A): 16*27 + 16*2 stem, per block 2*(9*C_in*C + 2C), fc 64*10+10; the 6n+2 family
    // grows by 194,432 per extra block in each stage. DenseNet-BC-100 (k=12): 769,162, as torchvision-style
    // ports report. The others are checked by their layer tables (`ptrain summary`).
    let config = try RunConfig.load(file: packageRoot.appendingPathComponent("configs/\(c.file)").path)
    #expect(try config.model.build(classes: 10).parameterCount == c.params)
}

@Test("summary arithmetic without allocation: 16 billion weights fully connected, 40 million locally connected")
func textbookArithmetic() throws {
    // Building these allocates no parameters (the fully connected one would need 64 GB).
    let fc = try RunConfig.load(file: packageRoot.appendingPathComponent("configs/arithmetic/fully-connected-200.yaml").path).model.build()
    let lc = try RunConfig.load(file: packageRoot.appendingPathComponent("configs/arithmetic/locally-connected-200.yaml").path).model.build()
    let fcSummary = ModelSummary(model: fc), lcSummary = ModelSummary(model: lc)
    #expect(fcSummary.rows[0].params == 16_000_000_000 && fcSummary.rows[0].output == [400_000])
    #expect(lcSummary.rows[0].params == 40_000_000 && lcSummary.rows[0].output == [40, 100, 100])
    #expect(fcSummary.table.contains("16,000,000,000") && lcSummary.table.contains("40,000,000"))
}

@Test("compare: final and best errors of several runs, and one error chart (dashed training, solid test)")
func compareRuns() throws {
    let root = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: root) }
    var dirs: [URL] = []
    for (name, accuracies) in [("a", [0.5, 0.7, 0.6]), ("b", [0.4, 0.8])] {
        let dir = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var lines: [String] = []
        for (e, top1) in accuracies.enumerated() {
            lines.append("{\"event\":\"epoch\",\"epoch\":\(e + 1),\"loss\":1,\"top1\":\(top1 - 0.1)}")
            lines.append("{\"event\":\"eval\",\"epoch\":\(e + 1),\"loss\":1,\"top1\":\(top1)}")
        }
        try lines.joined(separator: "\n").write(to: dir.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        dirs.append(dir)
    }
    let comparison = try RunComparison(directories: dirs)
    #expect(comparison.runs.map(\.epochs) == [3, 2])
    #expect(abs(comparison.runs[0].finalTestError! - 40) < 1e-9 && abs(comparison.runs[0].bestTestError! - 30) < 1e-9)
    #expect(abs(comparison.runs[1].finalTrainError! - 30) < 1e-9)
    let chart = comparison.chart(title: "t")
    #expect(chart.series.map(\.name) == ["a train", "a test", "b train", "b test"] && chart.series.map(\.dashed) == [true, false, true, false])
    #expect(comparison.table.split(separator: "\n").count == 3)
    #expect(throws: RunError("\(root.path)/none: no metrics.jsonl (not a ptrain run directory, or it has not logged yet)")) {
        try RunComparison(directories: [root.appendingPathComponent("none")])
    }
}

@Test("runtime.batchnorm: global normalises over the whole global batch (2 workers = 1 shard of the whole batch), per-shard does not")
func globalBatchNormStatistics() throws {
    func weights(_ overrides: [String], workers: Int) throws -> [Float] {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (trainer, result) = try train(tinyResidualConfig, overrides: overrides + ["train.steps=3"], workers: workers, in: dir)
        #expect(result.steps == 3)
        return trainer.parameters.array
    }
    let whole = try weights(["runtime.shard=16"], workers: 1)
    let global = try weights(["runtime.shard=8", "runtime.batchnorm=global", "runtime.schedule=static"], workers: 2)
    let perShard = try weights(["runtime.shard=8", "runtime.schedule=static"], workers: 2)
    func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }
    // Same statistics, summed in another order: equal up to rounding.
    #expect(maxDifference(whole, global) < 1e-4)
    #expect(maxDifference(whole, perShard) > 100 * max(maxDifference(whole, global), 1e-7))
}

@Test("runtime.batchnorm: global refuses schedules where a worker runs several shards")
func globalBatchNormNeedsOneShardPerWorker() throws {
    let config = try RunConfig.parse(yaml: tinyResidualConfig, file: "tiny.yaml", overrides: ["runtime.batchnorm=global"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    #expect(throws: RunError("runtime.batchnorm: global exchanges statistics between the workers of each step, so it needs synchronous SGD (sync.every 1), schedule: static and one shard per worker (shard = batch / workers = 8); this run has sync.every 1, schedule dynamic and 8 shards for 2 workers")) {
        _ = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 2)
    }
}

@Test("a graph model with batch norm resumes exactly: its running statistics are checkpointed with the weights")
func graphResumeIsExact() throws {
    let whole = temporaryDirectory(), part = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: whole); try? FileManager.default.removeItem(at: part) }
    let (reference, _) = try train(tinyResidualConfig, overrides: ["train.epochs=3"], workers: 2, in: whole)
    // One epoch, then resume from its checkpoint to three, on another worker count.
    _ = try train(tinyResidualConfig, overrides: ["train.epochs=1"], workers: 1, in: part)
    let steps = try FileManager.default.contentsOfDirectory(atPath: part.appendingPathComponent("checkpoints").path)
        .filter { $0.hasPrefix("step-") }.sorted()
    let checkpoint = try Checkpoint.read(part.appendingPathComponent("checkpoints").appendingPathComponent(steps.last!))
    let config = try RunConfig.parse(yaml: tinyResidualConfig, file: "tiny.yaml", overrides: ["train.epochs=3"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let resumed = try Trainer(config: config, directory: try RunDirectory.existing(part), train: data.train, test: data.test,
                              workers: 2, resume: checkpoint)
    _ = try resumed.run()
    let a = reference.parameters.array, b = resumed.parameters.array
    #expect(a.indices.first { a[$0] != b[$0] } == nil)
}
