import Testing
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainKernels
import PTrainRuntime

// `runtime.precision: bf16` end to end: the runtime's promises hold in bf16
// (bitwise-identical weights for any worker count dividing the shards, no
// heap allocation in a step), and a CPU without AVX512_BF16 is refused.

@Suite("bf16 training runs", .serialized, .enabled(if: BF16Support.available, "this CPU lacks AVX512_BF16"))
struct BF16RunTests {
    @Test("bf16: weights are bitwise identical for 1, 2 and 4 workers, and differ from fp32's")
    func bitwiseAcrossWorkerCounts() throws {
        var weights: [[Float]] = []
        for workers in [1, 2, 4] {
            let dir = temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let (trainer, result) = try train(tinyConfig, overrides: shardedOverrides + ["runtime.precision=bf16"], workers: workers, in: dir)
            #expect(result.steps == 8)
            weights.append(trainer.parameters.array)
        }
        #expect(weights[0] == weights[1], "2 workers differ from 1")
        #expect(weights[0] == weights[2], "4 workers differ from 1")
        // Not vacuous: the same run in fp32 gives other bits (bf16 really ran) ...
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (fp32, _) = try train(tinyConfig, overrides: shardedOverrides, workers: 1, in: dir)
        #expect(fp32.parameters.array != weights[0])
        // ... but close ones: 8 steps of bf16 SGD track fp32's weights.
        let diff = zip(fp32.parameters.array, weights[0]).map { abs($0 - $1) }.max()!
        #expect(diff < 0.05, "largest weight difference bf16 vs fp32: \(diff)")
    }

    @Test("bf16: no heap allocation inside training steps after warm-up (1 and 2 workers)", arguments: [1, 2])
    func noAllocation(_ workers: Int) throws {
        let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml",
                                         overrides: shardedOverrides + ["train.epochs=20", "runtime.precision=bf16"])
        try expectNoAllocationInSteps(config, workers: workers, session: Int64(300 + workers))
    }
}

@Test("runtime.precision: bf16 is refused on a CPU without AVX512_BF16, with one message naming the key")
func bf16Refusal() throws {
    #expect(throws: ConfigError("runtime.precision: bf16 needs AVX512_BF16 (vdpbf16ps); this CPU (Old CPU 3000) lacks it; use fp32")) {
        try PrecisionCheck.check(.bf16, bf16Available: false, cpuModel: "Old CPU 3000")
    }
    try PrecisionCheck.check(.fp32, bf16Available: false, cpuModel: "Old CPU 3000")
    try PrecisionCheck.check(.bf16, bf16Available: true, cpuModel: "New CPU")
    // The engine runs the check with this machine's answer.
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["runtime.precision=bf16"])
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    if BF16Support.available {
        _ = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 1)
    } else {
        #expect(throws: ConfigError.self) { _ = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 1) }
    }
}

@Test("topo says whether bf16 is available; bench reports the precision")
func bf16Reporting() throws {
    #expect(TopologyReport.bf16Line(available: true) == "bf16: yes (AVX512_BF16)")
    #expect(TopologyReport.bf16Line(available: false) == "bf16: no (this CPU lacks AVX512_BF16; runtime.precision: bf16 is refused)")
    let report = Benchmark.Report(workers: 2, batch: 128, trainImagesPerSecond: 100, inferImagesPerSecond: 300,
                                  trainFLOPPerImage: 1e8, peakGFLOPs: 100, peakGFLOPsPerCore: 50, rssMB: 42, layers: [],
                                  precision: .bf16)
    #expect(Benchmark.json(report).hasPrefix("{\"workers\":2,\"batch\":128,\"precision\":\"bf16\","))
    let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml")
    #expect(Benchmark.text(report, config: config).hasPrefix("tiny: 2 workers, batch 128, bf16\n"))
}
