import Testing
import PTrain
import PTrainData
import PTrainKernels
import PTrainRuntime

// The dense layers' weight gradients summed over the whole batch
// (`BatchWeightGradients`) must give exactly the bits of the per-shard
// gradient tree they replace, in every schedule and worker count, and the
// per-shard arenas must shrink to the other tensors.

/// Dense layers with and without bias, row counts that are not multiples of
/// the 8-row panels or the 16-row tiles, a ragged GEMM column edge (37),
/// dropout between them, a convolution whose gradient stays in the tree.
private let denseConfig = """
name: dense-batch
seed: 5
data: {dataset: synthetic, synthetic_count: 96, synthetic_classes: 4}
model:
  input: [1, 8, 8]
  layers:
    - {type: conv2d, filters: 4, kernel: 3, padding: 1}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: dense, units: 37}
    - {type: relu}
    - {type: dropout, p: 0.2}
    - {type: dense, units: 13, bias: false}
    - {type: relu}
    - {type: dense, units: 4}
train:
  epochs: 1
  batch: 24
  optimizer: {lr: 0.1, momentum: 0.9}
runtime: {shard: 4, bind: none}
"""

private func weightsAfterSteps(_ overrides: [String], workers: Int, batchWeightGradients: Bool, steps: Int = 3) throws -> [Float] {
    let config = try RunConfig.parse(yaml: denseConfig, file: "dense.yaml", overrides: overrides)
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: workers,
                                        batchWeightGradients: batchWeightGradients)
    engine.beginEpoch(0)
    #expect(engine.steps(first: 0, count: steps, learningRate: { _ in 0.05 }).completed == steps)
    return engine.parameters.array
}

@Test("batch-wide dense weight gradients give the per-shard tree's bits: static and dynamic schedules, 1 to 4 workers, uneven trees",
      arguments: [(1, "static"), (2, "static"), (3, "static"), (1, "dynamic"), (2, "dynamic"), (3, "dynamic"), (4, "dynamic")])
func batchWeightGradientsMatchTree(_ c: (workers: Int, schedule: String)) throws {
    let overrides = ["runtime.schedule=\(c.schedule)"]
    let tree = try weightsAfterSteps(overrides, workers: c.workers, batchWeightGradients: false)
    let batch = try weightsAfterSteps(overrides, workers: c.workers, batchWeightGradients: true)
    #expect(tree == batch)
    // The comparison can fail: another shard size sums the shards in another tree.
    let other = try weightsAfterSteps(overrides + ["runtime.shard=2"], workers: c.workers, batchWeightGradients: true)
    #expect(other != batch)
}

@Test("batch-wide dense weight gradients in bf16 give the per-shard tree's bits (1 and 2 workers)",
      .enabled(if: BF16Support.available, "this CPU lacks AVX512_BF16"), arguments: [1, 2])
func batchWeightGradientsMatchTreeInBF16(_ workers: Int) throws {
    let overrides = ["runtime.precision=bf16"]
    let tree = try weightsAfterSteps(overrides, workers: workers, batchWeightGradients: false)
    #expect(try weightsAfterSteps(overrides, workers: workers, batchWeightGradients: true) == tree)
}

@Test("the per-shard gradient arenas and leaves hold only the tensors outside the deferred dense layers")
func compactArenas() throws {
    let config = try RunConfig.parse(yaml: denseConfig, file: "dense.yaml", overrides: ["runtime.schedule=dynamic"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 2)
    let layout = engine.model.layout
    // The convolution's weight (36 floats) and bias (4), each padded to 16 floats.
    let convFloats = layout.entries.filter { engine.model.layers[$0.layerIndex] is Conv2D }
        .reduce(0) { $0 + ($1.count + 15) / 16 * 16 }
    #expect(convFloats == 48 + 16)
    let counts = engine.gradientBufferCounts
    #expect(counts.workers == [convFloats, convFloats])
    #expect(!counts.leaves.isEmpty && counts.leaves.allSatisfy { $0 == convFloats })
    #expect(counts.partials.allSatisfy { $0 == convFloats })
    #expect(counts.summed == layout.totalCount)
    // Parameter averaging keeps whole per-worker gradients.
    let averaging = try RunConfig.parse(yaml: denseConfig, file: "dense.yaml", overrides: ["runtime.sync.every=2"])
    let avg = try DataParallelEngine(config: averaging, train: data.train, test: data.test, workers: 2)
    #expect(avg.gradientBufferCounts.summed == nil)
    #expect(avg.gradientBufferCounts.workers == [layout.totalCount, layout.totalCount])
}

@Test("a non-finite value in a dense layer's batch-wide gradient is caught before the update")
func batchWeightGradientNonFinite() throws {
    // A huge learning rate makes the dense gradients overflow within a few steps.
    let config = try RunConfig.parse(yaml: denseConfig, file: "dense.yaml", overrides: ["train.on_nan=stop"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 2)
    engine.beginEpoch(0)
    let outcome = engine.steps(first: 0, count: 3, learningRate: { _ in 1e30 })
    #expect(outcome.nonFiniteGradient)
    #expect(engine.model.layout.firstNonFiniteTensor(in: engine.lastGradient) != nil)
}

@Test("the memory estimate counts the compact arenas, the summed arena, the recordings and the partial-sum tiles")
func batchWeightGradientsEstimate() throws {
    let config = try RunConfig.parse(yaml: denseConfig, file: "dense.yaml", overrides: ["runtime.schedule=dynamic"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 2)
    let counts = engine.gradientBufferCounts
    let arenas = (counts.workers + counts.partials + counts.leaves).reduce(0, +) + counts.summed!
    // 6 shards of 4 for 2 workers: leaves of 1, 2, 1 and 2 shards (a tree 2
    // deep over the leaves, 1 within the largest), so 3 levels of tiles; the
    // largest tile is 16 rows of the 64 -> 37 layer: 16 x (64 + 1) floats.
    #expect(counts.leaves.count == 4)
    let tiles = 3 * 16 * 65
    // Recorded per sample: x and dy of 64 -> 37, 37 -> 13 and 13 -> 4.
    let recorded = 24 * (64 + 37 + 37 + 13 + 13 + 4)
    let momentum = engine.model.layout.totalCount
    let estimate = MemoryEstimate(config: config, model: try config.model.build(classes: 4), workers: 2)
    #expect(estimate.gradientsAndMomentum == 4 * (arenas + recorded + 2 * tiles + momentum))
}

@Test("the reduction cost counts the per-shard arenas' floats; the summed gradient costs no extra barrier")
func batchWeightGradientsReductionCost() throws {
    let config = try RunConfig.parse(yaml: denseConfig, file: "dense.yaml", overrides: ["runtime.schedule=dynamic"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 2)
    let cost = try #require(engine.reductionCost(nodes: [nil, nil]))
    #expect(cost == ReductionCost(plan: engine.plan, parameters: 64, nodes: [nil, nil]))
    #expect(cost.barriersPerStep == 3)
    let whole = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 2, batchWeightGradients: false)
    #expect(whole.reductionCost(nodes: [nil, nil]) == ReductionCost(plan: engine.plan, parameters: engine.model.layout.totalCount,
                                                                    nodes: [nil, nil]))
}
