import Testing
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainRuntime

@Test("scaling summary: medians of quiet samples; speedup and efficiency from quiet within-round pairs with the first count")
func scaleSummary() {
    func s(_ w: Int, _ r: Int, _ rate: Double, noisy: Bool = false) -> ScaleExperiment.Sample {
        .init(workers: w, round: r, imagesPerSecond: rate, otherCores: noisy ? 1 : 0, noisy: noisy)
    }
    let samples = [s(1, 0, 100), s(1, 1, 110), s(1, 2, 90), s(1, 3, 10, noisy: true),
                   s(2, 0, 180), s(2, 1, 190, noisy: true), s(2, 2, 170), s(2, 3, 185)]
    let rows = ScaleExperiment.summarize(samples, workerCounts: [1, 2])
    #expect(rows.count == 2)
    #expect(rows[0].imagesPerSecond == 100 && rows[0].speedup == 1 && rows[0].efficiency == 1 && rows[0].noisySamples == 1)
    // Quiet pairs: round 0 (180 / 100) and round 2 (170 / 90); rounds 1 and 3 have a noisy sample.
    let paired = (1.8 + 170.0 / 90) / 2
    #expect(rows[1].imagesPerSecond == 180 && abs(rows[1].speedup - paired) < 1e-12 && abs(rows[1].efficiency - paired / 2) < 1e-12)
    #expect(ScaleExperiment.jsonLines(rows) == """
    {"processes":1,"workers":1,"img_s":100.0,"speedup":1.0000,"efficiency":1.0000,"samples":4,"noisy":1,"cross_reduce_ms":0.0000,"reduce_ms":0.0000,"compute_ms":0.000,"wait_ms":0.000,"reduce_bytes_per_worker":0,"cross_node_bytes":0,"barriers_per_step":0}
    {"processes":1,"workers":2,"img_s":180.0,"speedup":1.8444,"efficiency":0.9222,"samples":4,"noisy":1,"cross_reduce_ms":0.0000,"reduce_ms":0.0000,"compute_ms":0.000,"wait_ms":0.000,"reduce_bytes_per_worker":0,"cross_node_bytes":0,"barriers_per_step":0}

    """)
    // All samples noisy: fall back to them rather than report nothing.
    let noisyOnly = ScaleExperiment.summarize([s(1, 0, 50, noisy: true)], workerCounts: [1])
    #expect(noisyOnly.first?.imagesPerSecond == 50)
}

@Test("scaling summary: a machine drifting between fast and slow phases does not skew the paired speedup")
func scaleSummaryPairsWithinRounds() {
    func s(_ w: Int, _ r: Int, _ rate: Double, noisy: Bool = false) -> ScaleExperiment.Sample {
        .init(workers: w, round: r, imagesPerSecond: rate, otherCores: 0, noisy: noisy, computeMilliseconds: rate / 10,
              waitingMilliseconds: Double(w - 1))
    }
    // Rounds 0 and 1 ran in a fast phase, round 2 in a slow one. Within a
    // round 2 workers are 1.9x one; the overall medians (70 and 180) pair
    // samples from different phases and would say 2.57x.
    let samples = [s(1, 0, 100), s(2, 0, 190), s(1, 1, 50), s(2, 1, 95), s(1, 2, 70), s(2, 2, 180)]
    let rows = ScaleExperiment.summarize(samples, workerCounts: [1, 2])
    #expect(rows[0].speedup == 1 && rows[1].imagesPerSecond == 180)
    #expect(abs(rows[1].speedup - 1.9) < 1e-12 && abs(rows[1].efficiency - 0.95) < 1e-12)
    #expect(rows[1].computeMilliseconds == 18 && rows[1].waitingMilliseconds == 1)
    #expect(ScaleExperiment.table(rows).contains("      2        180      1.90       95.0%        3 (0)             1.00"))
    // A count with no sample in any round of the first count falls back to the ratio of medians.
    let unpaired = ScaleExperiment.summarize([s(1, 0, 100), s(2, 1, 150)], workerCounts: [1, 2])
    #expect(unpaired[1].speedup == 1.5)
}

@Test("a scaling run measures every worker count in every round and draws a valid SVG")
func scaleRun() throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["runtime.shard=4", "runtime.bind=none"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let experiment = ScaleExperiment(workerCounts: [1, 2], mode: .weak, steps: 2, rounds: 2, warmupSteps: 1)
    var logged: [String] = []
    let (samples, rows) = try experiment.run(config: config, train: data.train, test: data.test, placement: { w in
        var r = config.runtime
        r.workers = w
        return try WorkerPlacement.plan(r)
    }, log: { logged.append($0) })
    #expect(samples.count == 4 && Set(samples.map(\.workers)) == [1, 2])
    #expect(samples.allSatisfy { $0.imagesPerSecond > 0 && $0.otherCores >= 0 })
    #expect(logged.contains { $0.hasPrefix("2 workers: batch 32") })  // weak scaling doubles the batch
    #expect(rows.map(\.workers) == [1, 2])
    let svg = ScaleExperiment.chart(rows, title: "t <&>")
    #expect(svg.hasPrefix("<svg") && svg.contains("t &lt;&amp;&gt;") && svg.contains("<polyline"))
    #expect(ScaleExperiment.csv(samples).split(separator: "\n").count == 5)
}

@Test("a scaling run of 2 processes (ranks as threads) reports the cross-process sum per step and the same rows on every rank")
func scaleRunAcrossProcesses() throws {
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["runtime.shard=4", "runtime.bind=none"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let experiment = ScaleExperiment(workerCounts: [1, 2], mode: .weak, steps: 2, rounds: 2, warmupSteps: 1)
    let results = try ThreadRanks.run(ThreadRanks.make(2)) { group -> ([ScaleExperiment.Sample], [String]) in
        var logged: [String] = []
        let (samples, _) = try experiment.run(config: config, train: data.train, test: data.test, placement: { w in
            var r = config.runtime
            r.workers = w
            return try WorkerPlacement.plan(r)
        }, group: group, log: { logged.append($0) })
        return (samples, logged)
    }
    let (samples, logged) = results[0]
    #expect(samples.count == 4 && results[1].0.count == 4)
    #expect(samples.allSatisfy { $0.crossReduceMilliseconds > 0 }, "every step adds the processes' sums")
    // Weak scaling multiplies the batch by the workers of all processes.
    #expect(logged.contains { $0.hasPrefix("2 processes x 2 workers: batch 64, 16 shards of 4") })
    let rows = ScaleExperiment.summarize(samples, workerCounts: [1, 2])
    #expect(ScaleExperiment.table(rows, processes: 2).hasPrefix("2 processes (MPI ranks); workers per process\nworkers      img/s   speedup  efficiency  samples (noisy)  waiting ms/step  across processes ms/step"))
}

@Test("other-process load is near zero for our own busy loop and never negative")
func systemLoad() {
    let before = SystemLoad.sample()
    var x = 0.0
    let end = monotonicSeconds() + 0.2
    while monotonicSeconds() < end { x += 1 }
    let other = before.otherCores(until: SystemLoad.sample())
    #expect(x > 0 && other >= 0 && other < 2.5)
}
