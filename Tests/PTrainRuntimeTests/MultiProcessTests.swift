import Testing
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainRuntime

// Multi-process training with ranks as threads (`ThreadRanks`, the MPI
// group's semantics): R processes x W workers must give the bits of one
// process with R x W workers. The MPI build repeats the first check with real
// processes under mpirun (tools/test-mpi).

/// Trains `tinyConfig` with `overrides` as `ranks` processes of `workers`
/// workers; returns every rank's final weights and result. Rank 0 writes into
/// `dir`; the others get no directory.
private func trainRanks(_ ranks: Int, workers: Int, overrides: [String], in dir: URL) throws -> [([Float], Trainer.Result)] {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: overrides)
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let directory = try RunDirectory.create(explicit: dir.path, name: config.name)
    return try ThreadRanks.run(ThreadRanks.make(ranks)) { group in
        let trainer = try Trainer(config: config, directory: group.rank == 0 ? directory : nil, train: data.train, test: data.test,
                                  workers: workers, group: group)
        let result = try trainer.run()
        return (trainer.parameters.array, result)
    }
}

@Test("R processes x W workers give the weights of one process with R x W workers, bit for bit (static, dynamic, parameter averaging)",
      arguments: [["runtime.schedule=static"], ["runtime.schedule=dynamic"], ["runtime.sync.every=2"]])
func ranksMatchWorkers(extra: [String]) throws {
    let overrides = shardedOverrides + extra
    var dirs: [URL] = []
    defer { dirs.forEach { try? FileManager.default.removeItem(at: $0) } }
    func dir() -> URL { let d = temporaryDirectory(); dirs.append(d); return d }
    let (one2, _) = try train(tinyConfig, overrides: overrides, workers: 2, in: dir())
    let (one4, _) = try train(tinyConfig, overrides: overrides, workers: 4, in: dir())
    let twoByOne = try trainRanks(2, workers: 1, overrides: overrides, in: dir())
    let twoByTwo = try trainRanks(2, workers: 2, overrides: overrides, in: dir())
    #expect(twoByOne[0].0 == one2.parameters.array, "2 ranks x 1 worker vs 1 x 2 \(extra)")
    #expect(twoByOne[1].0 == twoByOne[0].0, "every rank holds the same weights")
    #expect(twoByTwo[0].0 == one4.parameters.array, "2 ranks x 2 workers vs 1 x 4 \(extra)")
    #expect(twoByTwo[1].0 == twoByTwo[0].0)
    // Evaluation covers the whole test set once: every rank reports the single-process figures.
    #expect(twoByOne[0].1.finalEval.top1 == twoByOne[1].1.finalEval.top1)
    #expect(twoByOne[0].1.finalEval.count == 64)
}

@Test("only rank 0 writes: metrics, config and checkpoints appear once, with the whole batch's training figures")
func onlyRankZeroWrites() throws {
    let single = temporaryDirectory(), multi = temporaryDirectory()
    defer { [single, multi].forEach { try? FileManager.default.removeItem(at: $0) } }
    _ = try train(tinyConfig, overrides: shardedOverrides, workers: 2, in: single)
    _ = try trainRanks(2, workers: 1, overrides: shardedOverrides, in: multi)
    let a = try lines(single.appendingPathComponent("metrics.jsonl")), b = try lines(multi.appendingPathComponent("metrics.jsonl"))
    #expect(a.count == b.count)
    for (x, y) in zip(a, b) where x["event"] as? String != "train" {
        // Loss sums are added per process, then across: the same to a few ulps; top-1 counts exactly.
        #expect(x["top1"] as? Double == y["top1"] as? Double, "\(x) vs \(y)")
        #expect(abs((x["loss"] as! Double) - (y["loss"] as! Double)) < 1e-6)
    }
    #expect(FileManager.default.fileExists(atPath: multi.appendingPathComponent("checkpoints/last.safetensors").path))
}

@Test("a signal on one rank stops every rank after the same step")
func interruptIsAgreed() throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: shardedOverrides)
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let outcomes = try ThreadRanks.run(ThreadRanks.make(2)) { group in
        let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 1, group: group)
        engine.beginEpoch(0)
        if group.rank == 1 { engine.interrupt.request() }
        return engine.steps(first: 0, count: 3, learningRate: { _ in 0.05 })
    }
    #expect(outcomes[0] == .init(completed: 1, interrupted: true))
    #expect(outcomes[1] == outcomes[0])
}

@Test("process counts that cannot share the shards, and global batch norm across processes, are refused")
func multiProcessRefusals() throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: shardedOverrides)
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let errors = try ThreadRanks.run(ThreadRanks.make(3)) { group -> String in
        do { _ = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 1, group: group) } catch let e as RunError {
            return e.description
        }
        return "no error"
    }
    #expect(errors == Array(repeating: "runtime: 3 processes cannot share the 8 shards of a global batch (batch 16 / shard 2) evenly; use a process count that divides 8", count: 3))
    let global = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: shardedOverrides + ["runtime.batchnorm=global"])
    let refused = try ThreadRanks.run(ThreadRanks.make(2)) { group -> String in
        do { _ = try DataParallelEngine(config: global, train: data.train, test: data.test, workers: 1, group: group) } catch let e as RunError {
            return e.description
        }
        return "no error"
    }
    #expect(refused[0] == "runtime.batchnorm: global exchanges statistics in shared memory, between the workers of one process; it is not available across 2 processes (use runtime.batchnorm: shard)")
}

@Test("allreduce benchmark: sizes grow 4x, every rank measures every size, and the fit recovers a line")
func allreduceBenchmark() throws {
    #expect(AllreduceBenchmark.sizes(from: 1024, to: 65536) == [1024, 4096, 16384, 65536])
    let points = try ThreadRanks.run(ThreadRanks.make(2)) { group in
        AllreduceBenchmark.measure(group: group, sizes: [16, 64], repeats: 2)
    }
    #expect(points[0].map(\.floats) == [16, 64] && points[1].map(\.floats) == [16, 64])
    let line = [AllreduceBenchmark.Point(floats: 1000, seconds: 2e-5 + 4000 * 1e-10),
                AllreduceBenchmark.Point(floats: 4000, seconds: 2e-5 + 16000 * 1e-10),
                AllreduceBenchmark.Point(floats: 16000, seconds: 2e-5 + 64000 * 1e-10)]
    let (a, b) = AllreduceBenchmark.fit(line)
    #expect(abs(a - 2e-5) < 1e-12 && abs(b - 1e-10) < 1e-16)
    #expect(AllreduceBenchmark.json(Array(line.prefix(1)), processes: 2).hasPrefix("{\"processes\":2,\"latency_s\":2.04e-05,\"seconds_per_byte\":0,\"points\":[{\"floats\":1000,\"bytes\":4000,"))
}
