import Testing
import Foundation
import PTrain
import PTrainData
import PTrainRuntime
import PTrainKernels
import CMallocCounter

// The runtime's central promise: the same config and seed give bitwise-
// identical weights for every power-of-two worker count that divides the
// shard count (here 8 shards: 1, 2, 4 and 8 workers, unpinned on any
// machine; on 2 cores, 3 and more workers are oversubscribed).

let shardedOverrides = ["train.epochs=2", "train.batch=16", "runtime.shard=2", "runtime.bind=none"]

@Test("synchronous SGD: weights are bitwise identical for 1, 2, 4 and 8 workers, static or dynamic schedule, and 3 dynamic workers (dropout included)")
func bitwiseAcrossWorkerCounts() throws {
    var weights: [[Float]] = []
    for (workers, schedule) in [(1, "static"), (2, "static"), (4, "static"), (8, "static"),
                                (1, "dynamic"), (2, "dynamic"), (3, "dynamic"), (4, "dynamic"), (8, "dynamic")] {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (trainer, result) = try train(tinyConfig, overrides: shardedOverrides + ["runtime.schedule=\(schedule)"], workers: workers, in: dir)
        #expect(result.steps == 8)
        weights.append(trainer.parameters.array)
    }
    for i in 1..<weights.count { #expect(weights[0] == weights[i], "run \(i) differs from 1 static worker") }
    // The reduction order matters: a different shard size changes the bits
    // (proving the comparison above is not vacuous).
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (other, _) = try train(tinyConfig, overrides: shardedOverrides + ["runtime.shard=4"], workers: 1, in: dir)
    #expect(other.parameters.array != weights[0])
}

@Test("workers filling their own shards give the batch pipeline's data: bitwise equal weights (random crops and flips)")
func fillInWorkersIsInvisible() throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: shardedOverrides + [
        "data.augment=[{type: random_crop, padding: 2}, {type: flip}]"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    var weights: [[Float]] = []
    for (workers, inWorkers) in [(1, false), (2, true), (2, false), (1, true)] {
        let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: workers,
                                            fillInWorkers: inWorkers)
        engine.beginEpoch(0)
        #expect(engine.steps(first: 0, count: 4, learningRate: { _ in 0.05 }).completed == 4)
        weights.append(engine.parameters.array)
    }
    for i in 1..<weights.count { #expect(weights[0] == weights[i], "run \(i) differs from the pipeline's 1 worker") }
    // The crops matter (the comparison above is not vacuous): without them
    // the same steps give other weights.
    let plain = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: shardedOverrides)
    let plainData = try DataSources.load(plain.data, model: plain.model, seed: plain.seed)
    let engine = try DataParallelEngine(config: plain, train: plainData.train, test: plainData.test, workers: 1)
    engine.beginEpoch(0)
    _ = engine.steps(first: 0, count: 4, learningRate: { _ in 0.05 })
    #expect(engine.parameters.array != weights[0])
}

@Test("static schedule: a worker count that does not divide the shards is refused")
func unevenWorkersRefused() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(throws: RunError("runtime: 3 workers cannot share 8 shards (batch 16 / shard 2) evenly; use a worker count that divides 8")) {
        _ = try train(tinyConfig, overrides: shardedOverrides + ["runtime.schedule=static"], workers: 3, in: dir)
    }
}

@Test("parameter averaging: K local steps then averaged replicas; with 1 worker it is plain SGD")
func parameterAveraging() throws {
    let a = temporaryDirectory(), b = temporaryDirectory(), c = temporaryDirectory()
    defer { [a, b, c].forEach { try? FileManager.default.removeItem(at: $0) } }
    // One worker: averaging is the identity, so any K gives synchronous SGD's weights.
    let (sync, _) = try train(tinyConfig, overrides: shardedOverrides, workers: 1, in: a)
    let (avg1, _) = try train(tinyConfig, overrides: shardedOverrides + ["runtime.sync.every=3"], workers: 1, in: b)
    #expect(sync.parameters.array == avg1.parameters.array)
    // Two workers averaging every 2 steps: a different algorithm, still training and reproducible.
    let (avg2, result) = try train(tinyConfig, overrides: shardedOverrides + ["runtime.sync.every=2", "train.epochs=20"], workers: 2, in: c)
    let d = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: d) }
    let (again, _) = try train(tinyConfig, overrides: shardedOverrides + ["runtime.sync.every=2", "train.epochs=20"], workers: 2, in: d)
    #expect(avg2.parameters.array == again.parameters.array)
    #expect(avg2.parameters.array != sync.parameters.array)
    let events = try lines(c.appendingPathComponent("metrics.jsonl")).filter { $0["event"] as? String == "epoch" }
    #expect((events.last!["loss"] as! Double) < 0.6 * (events.first!["loss"] as! Double), "averaging must still train")
    #expect(result.steps == 80)
}

@Test("ShardPlan slices cover the arena once, 16-float aligned")
func slices() {
    for count in [0, 1, 15, 16, 17, 1000, 61_712] {
        for workers in [1, 2, 3, 4] {
            let s = (0..<workers).map { ShardPlan.slice(of: $0, workers: workers, count: count) }
            #expect(s.first!.lowerBound == 0 && s.last!.upperBound == count)
            for i in 1..<workers { #expect(s[i].lowerBound == s[i - 1].upperBound && s[i].lowerBound % 16 == 0 || s[i].lowerBound == count) }
        }
    }
}

@Test("worker placement: one per allowed core by default, pinned threads, too many workers refused")
func placement() throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
    let auto = try WorkerPlacement.plan(config.runtime)
    // One per allowed core, or fewer under this machine's CPU quota (CPUQuotaTests).
    let quotaWorkers = CPUQuota.read().quota?.workers ?? Int.max
    #expect(auto.workers == min(auto.topology.cores.count, quotaWorkers))
    #expect(auto.description.contains("worker 0 -> core 0 (PU"))
    // Pinned workers really run: a trainer on the default placement trains.
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let trainer = try Trainer(config: try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["train.epochs=1", "runtime.shard=2"]),
                              directory: try RunDirectory.create(explicit: dir.path, name: "tiny"), train: data.train, test: data.test,
                              workers: auto.workers, placement: auto.bindCurrentThread)
    #expect(try trainer.run().steps == 4)
    let cores = auto.topology.cores.count
    let tooMany = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["runtime.workers=\(cores + 1)"])
    #expect(throws: RunError.self) { _ = try WorkerPlacement.plan(tooMany.runtime) }
    do { _ = try WorkerPlacement.plan(tooMany.runtime) } catch let e as RunError {
        #expect(e.description.hasPrefix("--workers \(cores + 1) with --bind core needs \(cores + 1) cores, but this process may use \(cores)"))
        #expect(e.description.hasSuffix("use --bind none to run more workers than cores"))
    }
    let unbound = try WorkerPlacement.plan(try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml",
                                                               overrides: ["runtime.workers=\(cores + 1)", "runtime.bind=none"]).runtime)
    #expect(unbound.workers == cores + 1 && unbound.description.hasSuffix("worker \(cores) -> unbound, memory where the kernel first runs it"))
}

@Test("a non-finite gradient stops the run before its update (on_nan: stop) or skips the update (skip), on every worker count")
func nonFiniteGuard() throws {
    for (workers, extra) in [(1, [String]()), (2, []), (2, ["runtime.sync.every=2"])] {
        for onNaN in ["stop", "skip"] {
            let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: shardedOverrides + extra + ["train.on_nan=\(onNaN)"])
            let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
            let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: workers)
            engine.beginEpoch(0)
            #expect(engine.steps(first: 0, count: 2, learningRate: { _ in 0.01 }) == .init(completed: 2))
            // A NaN weight makes every gradient NaN from here on.
            engine.parameters.pointer[0] = .nan
            let before = engine.parameters.array
            let outcome = engine.steps(first: 2, count: 2, learningRate: { _ in 0.01 })
            if onNaN == "stop" {
                #expect(outcome == .init(completed: 0, nonFiniteGradient: true), "\(workers) workers \(extra)")
            } else {
                #expect(outcome == .init(completed: 2, skipped: 2), "\(workers) workers \(extra)")
            }
            // No update was applied: the weights are exactly as before (NaN included).
            #expect(engine.parameters.array.map(\.bitPattern) == before.map(\.bitPattern), "\(workers) workers \(extra) \(onNaN)")
            #expect(engine.model.layout.firstNonFiniteTensor(in: engine.lastGradient) != nil)
        }
    }
}

@Test("workers sitting out (dynamic schedule; 3 or 4 workers, oversubscribed on 2 cores) change no bit of the weights",
      arguments: [([false, true, false], [true, false, true]), ([true, true, false, true], [false, true, true, false])])
func sittingOutIsInvisible(_ c: (first: [Bool], then: [Bool])) throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: shardedOverrides + ["runtime.schedule=dynamic"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let one = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 1)
    one.beginEpoch(0)
    #expect(one.steps(first: 0, count: 4, learningRate: { _ in 0.05 }).completed == 4)
    let many = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: c.first.count)
    many.beginEpoch(0)
    many.setParticipation(c.first)
    #expect(many.steps(first: 0, count: 2, learningRate: { _ in 0.05 }).completed == 2)
    many.setParticipation(c.then)
    #expect(many.steps(first: 2, count: 2, learningRate: { _ in 0.05 }).completed == 2)
    #expect(one.parameters.array == many.parameters.array)
}

@Test("no heap allocation inside training steps after warm-up (1 and 2 workers, static and dynamic schedules, averaging)",
      .serialized, arguments: [(1, "dynamic"), (2, "dynamic"), (2, "static"), (2, "averaging")])
func noAllocationInSteps(_ c: (workers: Int, mode: String)) throws {
    var overrides = shardedOverrides + ["train.epochs=20"]
    if c.mode == "averaging" { overrides.append("runtime.sync.every=2") } else { overrides.append("runtime.schedule=\(c.mode)") }
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: overrides)
    try expectNoAllocationInSteps(config, workers: c.workers, session: Int64(100 + c.workers * 10 + c.mode.count))
}

/// One counting session at a time: the counter keeps one session and one
/// count for the whole process, and tests run concurrently (two of them,
/// or two arguments of one test, sharing a session id counted each other's
/// warm-up allocations).
let allocationCounting = NSLock()

/// Runs 2 warm-up steps of `config`, then counts heap allocations during 2
/// more (averaging after the second), on the workers (tracked from their
/// first moment) and on this thread; expects none. `session` tells this
/// test's allocations from those of tests running meanwhile; the whole
/// measurement holds `allocationCounting`.
func expectNoAllocationInSteps(_ config: RunConfig, workers: Int, session: Int64) throws {
    allocationCounting.lock()
    defer { allocationCounting.unlock() }
    let data = try DataSources.load(config)
    let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, architecture: data.architecture, workers: workers,
                                        placement: { _ in CMallocCounter_track(session) })
    engine.beginEpoch(0)
    _ = engine.steps(first: 0, count: 2, learningRate: { _ in 0.01 })  // warm-up
    CMallocCounter_track(session)
    CMallocCounter_start(session)
    let outcome = engine.steps(first: 2, count: 2, learningRate: { _ in 0.01 }, averageAfter: { $0 % 2 == 1 })
    let allocations = CMallocCounter_stop()
    #expect(outcome.completed == 2)
    #expect(allocations == 0, "\(allocations) heap allocations in 2 steps")
}

@Test("the allocation counter counts the tracked thread's allocations (so a zero means something)")
func allocationCounterWorks() {
    allocationCounting.lock()
    defer { allocationCounting.unlock() }
    CMallocCounter_track(7)
    CMallocCounter_start(7)
    let array = [Int](repeating: 1, count: 1000)
    let count = CMallocCounter_stop()
    #expect(array.count == 1000 && count >= 1)
}

@Test("benching a straggler and bringing it back allocate nothing (the note's text is built by whoever listens)")
func participationChangesDoNotAllocate() {
    let participation = Participation(workers: 3)
    allocationCounting.lock()
    defer { allocationCounting.unlock() }
    CMallocCounter_track(901)
    CMallocCounter_start(901)
    // Workers 0 and 2 waited 60% of a 1 s sub-run; worker 1 never waited: it is the straggler.
    let benched = participation.afterSubRun(seconds: 1, waited: { $0 == 1 ? 0 : 0.6 })
    var back: ParticipationChange? = nil
    for _ in 0..<Participation.probeEvery where back == nil { back = participation.beforeSubRun() }
    let allocations = CMallocCounter_stop()
    #expect(benched == .sitsOut(worker: 1, waitedShare: 0.6))
    #expect(back == .allBack(workers: 3))
    #expect(allocations == 0, "\(allocations) heap allocations")
    #expect(benched?.description == "worker 1 sits out: the others waited 60% of the time for it (is its core busy?); results are unchanged")
}

/// The trained weights of `yaml` (8 steps) on 1, 2 and 4 static workers and
/// 3 dynamic ones, unbound; `check` looks at each run's trainer.
func weightsAcrossWorkerCounts(_ yaml: String, overrides: [String] = [],
                               check: (Trainer) -> Void = { _ in }) throws -> [[Float]] {
    try [(1, "static"), (2, "static"), (4, "static"), (3, "dynamic")].map { workers, schedule in
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (trainer, result) = try train(yaml, overrides: ["runtime.bind=none", "runtime.schedule=\(schedule)"] + overrides,
                                          workers: workers, in: dir)
        #expect(result.steps == 8)
        check(trainer)
        return trainer.parameters.array
    }
}

/// Winograd layers on both tile sizes: a "same" 5x5 (F(4x4, 5x5), 8x8 tiles,
/// blocks of several images) and a 3x3 (F(4x4, 3x3)) over 16 channels.
let winogradConfig = """
name: winograd
seed: 5
data: {dataset: synthetic, synthetic_count: 64, synthetic_classes: 4}
model:
  input: [16, 8, 8]
  layers:
    - {type: conv2d, filters: 16, kernel: 5, padding: 2}
    - {type: relu}
    - {type: conv2d, filters: 16, kernel: 3, padding: 1}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: dense, units: 4}
train:
  epochs: 2
  batch: 16
  optimizer: {lr: 0.05, momentum: 0.9}
runtime: {shard: 2}
"""

@Test("Winograd layers (8x8 and 6x6 tiles) give bitwise identical weights for 1, 2, 4 and 3 dynamic workers, in fp32 and in bf16 (where they stay fp32)")
func winogradBitwiseAcrossWorkerCounts() throws {
    let precisions = BF16Support.available ? ["fp32", "bf16"] : ["fp32"]
    var byPrecision: [[Float]] = []
    for precision in precisions {
        let weights = try weightsAcrossWorkerCounts(winogradConfig, overrides: ["runtime.precision=\(precision)"])
        for i in 1..<weights.count { #expect(weights[0] == weights[i], "\(precision): run \(i) differs from 1 worker") }
        byPrecision.append(weights[0])
    }
    // Not vacuous: the tiles ran (the direct convolutions round otherwise) ...
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let direct = winogradConfig.replacingOccurrences(of: "padding: 2}", with: "padding: 2, algorithm: direct}")
        .replacingOccurrences(of: "padding: 1}", with: "padding: 1, algorithm: direct}")
    let (reference, _) = try train(direct, overrides: ["runtime.bind=none"], workers: 1, in: dir)
    #expect(reference.parameters.array != byPrecision[0])
    let diff = zip(reference.parameters.array, byPrecision[0]).map { abs($0 - $1) }.max()!
    #expect(diff < 1e-3, "largest weight difference Winograd vs direct: \(diff)")
    // ... and a bf16 run differs from fp32 only in its other layers' GEMMs.
    if byPrecision.count == 2 { #expect(byPrecision[1] != byPrecision[0]) }
}

/// LeNet's two convolutions on a smaller image: conv1 (1 -> 6 filters,
/// 5x5 padding 2, rows of 20) takes image-lane weight gradients; conv2
/// (6 -> 16, 5x5 valid) filter vectors forward and for its weight
/// gradient, image lanes for its input gradient (feeding conv1's
/// backward). Shards of 2: every lane group is partial.
let vectorLayersConfig = """
name: vector-layers
seed: 9
data: {dataset: synthetic, synthetic_count: 64, synthetic_classes: 4}
model:
  input: [1, 20, 20]
  layers:
    - {type: conv2d, filters: 6, kernel: 5, padding: 2}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: conv2d, filters: 16, kernel: 5}
    - {type: relu}
    - {type: flatten}
    - {type: dense, units: 4}
train:
  epochs: 2
  batch: 16
  optimizer: {lr: 0.05, momentum: 0.9}
runtime: {shard: 2}
"""

/// The algorithms `vectorLayersConfig`'s convolutions run (the tests'
/// proof that they exercise the vector kernels).
let vectorLayerAlgorithms = ["taps / image lanes / image lanes", "filter vectors / image lanes / filter vectors"]

@Test("filter-vector and image-lane layers give bitwise identical weights for 1, 2, 4 and 3 dynamic workers")
func filterVectorBitwiseAcrossWorkerCounts() throws {
    let weights = try weightsAcrossWorkerCounts(vectorLayersConfig) { trainer in
        // Not vacuous: the convolutions run the vector kernels.
        #expect(trainer.model.layers.compactMap { ($0 as? Conv2D)?.algorithmNames() } == vectorLayerAlgorithms)
    }
    for i in 1..<weights.count { #expect(weights[0] == weights[i], "run \(i) differs from 1 worker") }
}

@Test("no heap allocation inside training steps through filter-vector and image-lane layers (2 workers)")
func noAllocationInVectorLayerSteps() throws {
    let config = try RunConfig.parse(yaml: vectorLayersConfig, file: "vector-layers.yaml", overrides: ["runtime.bind=none"])
    let model = try config.model.build(classes: 4)
    #expect(model.layers.compactMap { ($0 as? Conv2D)?.algorithmNames() } == vectorLayerAlgorithms)
    try expectNoAllocationInSteps(config, workers: 2, session: 177)
}

/// A first convolution of 32 filters whose max pool's gradient goes straight
/// to its weight gradient (`Conv2D.routedPool`; `Conv2D.routedFilters`):
/// overlapping 3x3/2 windows with padding, shards of 2.
let routedPoolConfig = """
name: routed-pool
seed: 13
data: {dataset: synthetic, synthetic_count: 64, synthetic_classes: 4}
model:
  input: [3, 12, 12]
  layers:
    - {type: conv2d, filters: 32, kernel: 5, padding: 2}
    - {type: relu}
    - {type: maxpool, kernel: 3, stride: 2, padding: 1}
    - {type: flatten}
    - {type: dense, units: 4}
train:
  epochs: 2
  batch: 16
  optimizer: {lr: 0.05, momentum: 0.9}
runtime: {shard: 2}
"""

@Test("a pool's gradient routed to the first convolution: bitwise identical weights for 1, 2, 4 and 3 dynamic workers, and no allocation in steps")
func routedPoolBitwiseAcrossWorkerCounts() throws {
    let weights = try weightsAcrossWorkerCounts(routedPoolConfig)
    for i in 1..<weights.count { #expect(weights[0] == weights[i], "run \(i) differs from 1 worker") }
    // Not vacuous: the training network routes the pool's gradient.
    let config = try RunConfig.parse(yaml: routedPoolConfig, file: "routed.yaml")
    let model = try config.model.build(classes: 4)
    let network = Network(model: model, maxBatch: 2, parameters: FloatBuffer(count: model.layout.totalCount),
                          gradients: FloatBuffer(count: model.layout.totalCount), seed: 1)
    #expect((network.model.layers[2] as? MaxPool2D)?.gradientRouted == true)
    let stepping = try RunConfig.parse(yaml: routedPoolConfig, file: "routed.yaml", overrides: ["runtime.bind=none", "train.epochs=20"])
    try expectNoAllocationInSteps(stepping, workers: 2, session: 977)
}
