import Testing
import PTrain
import PTrainExperiments
import PTrainRuntime

// `ptrain bench`'s report: the per-layer table and JSON, with each GEMM
// layer's share of one core's peak.

/// A report of two layers on a 100 GFLOP/s core: a conv doing 0.5 GFLOP in
/// 10 ms forward (50%) and 1.6 GFLOP in 20 ms backward (80%), and a relu.
func sampleReport() -> Benchmark.Report {
    Benchmark.Report(workers: 1, batch: 32, trainImagesPerSecond: 100, inferImagesPerSecond: 300,
                     trainFLOPPerImage: 1e8, peakGFLOPs: 100, peakGFLOPsPerCore: 100, rssMB: 42,
                     layers: [.init(name: "layer1.0.conv1", type: "conv2d", forwardMs: 10, backwardMs: 20,
                                    forwardFLOP: 5e8, backwardFLOP: 1.6e9, algorithms: "filter vectors / taps / filter vectors"),
                              .init(name: "relu", type: "relu", forwardMs: 1, backwardMs: 1)])
}

@Test("bench's per-layer percent of peak: FLOP over time against one core's peak; none for non-GEMM layers")
func layerPercentOfPeak() {
    let r = sampleReport()
    #expect(r.layers[0].forwardPercent(ofPeak: 100) == 50)
    #expect(r.layers[0].backwardPercent(ofPeak: 100) == 80)
    #expect(r.layers[1].forwardPercent(ofPeak: 100) == nil)
}

@Test("bench's per-layer table lines up long names and prints the percents of GEMM layers only, and convolutions' algorithms")
func layerTable() throws {
    let config = try RunConfig.parse(yaml: "name: t\ndata: {dataset: synthetic}\nmodel: {input: [1, 4, 4], layers: [{type: flatten}, {type: dense, units: 2}]}\ntrain: {epochs: 1, batch: 32, optimizer: {lr: 0.1}}\nruntime: {shard: 32}\n", file: "t.yaml")
    let lines = Benchmark.text(sampleReport(), config: config).split(separator: "\n").map(String.init)
    let header = try #require(lines.firstIndex { $0.hasPrefix("layer ") })
    #expect(lines[header] == "layer          type        forward ms  backward ms   share  fwd peak  bwd peak  algorithms")
    #expect(lines[header + 1]
            == "layer1.0.conv1 conv2d          10.000       20.000   93.8%       50%       80%  filter vectors / taps / filter vectors")
    #expect(lines[header + 2] == "relu           relu             1.000        1.000    6.2%                    ")
}

@Test("bench --json gives GEMM layers their percent of peak and convolutions their algorithms")
func layerJSON() {
    let json = Benchmark.json(sampleReport())
    #expect(json.contains("{\"name\":\"layer1.0.conv1\",\"type\":\"conv2d\",\"forward_ms\":10.0000,\"backward_ms\":20.0000,\"forward_percent_of_peak\":50.0,\"backward_percent_of_peak\":80.0,\"algorithms\":\"filter vectors / taps / filter vectors\"}"))
    #expect(json.contains("{\"name\":\"relu\",\"type\":\"relu\",\"forward_ms\":1.0000,\"backward_ms\":1.0000}"))
}
