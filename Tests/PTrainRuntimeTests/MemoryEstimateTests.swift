import Testing
import Foundation
import PTrain
import PTrainData
import PTrainRuntime

/// A model whose buffers are easy to count: 4 inputs, flatten (4), dense (3);
/// 4 x 3 weights and 3 biases, each tensor padded to 16 floats in the arena:
/// 32 floats, 128 bytes an arena.
private let smallConfig = """
name: small
data: {dataset: synthetic, synthetic_count: 10, synthetic_classes: 3}
model:
  input: [1, 2, 2]
  layers:
    - {type: flatten}
    - {type: dense, units: 3}
train: {epochs: 1, batch: 16, eval_batch: 8, optimizer: {lr: 0.1}}
runtime: {shard: 4, bind: none}
"""

@Test("the memory estimate of a small model, part by part, in each runtime mode")
func memoryEstimateParts() throws {
    // 2 workers on 4 CPUs: the pipeline thread fills the batches (`runtime.loader: auto`).
    func estimate(_ overrides: [String], cpus: Int = 4) throws -> MemoryEstimate {
        let config = try RunConfig.parse(yaml: smallConfig, file: "small.yaml", overrides: overrides)
        return MemoryEstimate(config: config, model: try config.model.build(), workers: 2, cpus: cpus)
    }
    // Activations per worker: training network at shard 4, per sample input 4
    // + values 4 + 3 + gradients 4 + 3 + label 1 = 19 (x 4 bytes x 4 samples =
    // 304); evaluation network at 8, per sample input 4 + shared values 7 +
    // label 1 = 12 (384); probabilities 8 x 3 (96).
    // Data: 2 splits x 10 images x (4 pixels + 2 label bytes) = 120, plus the
    // pipeline's two batches of 16 x (4 inputs + label) x 4 bytes = 640.
    let dynamic = try estimate([])
    // Gradients and momentum: the dense layer's gradient is summed over the
    // batch (`BatchWeightGradients`), so the 2 worker arenas and 4 shard
    // leaves hold nothing; the summed arena (128), the recorded x and dy
    // (16 samples x (4 + 3) floats = 448), each worker's partial-sum tiles
    // (2 levels, the 4 leaves' tree, x 3 rows x (4 inputs + 1 bias) floats =
    // 120) and the momentum (128).
    // Weights: the arena (128) and the evaluation's prepared W^T (4 x 3 floats, 48).
    #expect(dynamic == MemoryEstimate(weights: 128 + 48, gradientsAndMomentum: 128 + 448 + 2 * 120 + 128, activationsPerWorker: 784,
                                      workers: 2, data: 760))
    #expect(dynamic.total == 176 + 944 + 2 * 784 + 760)
    // Static: two leaves of two shards, again 2 levels of tiles.
    #expect(try estimate(["runtime.schedule=static"]).gradientsAndMomentum == 944)
    // Workers filling their own shards (a worker on every CPU, or `runtime.loader: workers`):
    // the pipeline allocates no batches, only the splits remain.
    #expect(try estimate([], cpus: 2).data == 120)
    #expect(try estimate(["runtime.loader=workers"]).data == 120)
    #expect(try estimate(["runtime.loader=thread"], cpus: 2).data == 760)
    // Averaging: whole gradient arenas, one replica of the weights (and of
    // their prepared W^T) and momentum per worker.
    let averaging = try estimate(["runtime.sync.every=4"])
    #expect(averaging.weights == 2 * 176 && averaging.gradientsAndMomentum == 128 * (2 + 2 + 2))
}

@Test("a network allocates exactly the activation and scratch bytes its footprint announces",
      arguments: [true, false])
func footprintMatchesNetwork(_ training: Bool) throws {
    // routedPoolConfig: a routed pool's patches in the scratch, its convolution's gradient in no buffer.
    for yaml in [smallConfig, tinyConfig, resumableConfig, routedPoolConfig] {
        let config = try RunConfig.parse(yaml: yaml, file: "config.yaml")
        let model = try config.model.build()
        let p = FloatBuffer(count: model.layout.totalCount)
        let net = Network(model: model, maxBatch: 5, parameters: p, gradients: training ? FloatBuffer(count: p.count) : nil, seed: 1)
        let owned = model.layers.reduce(0) { $0 + $1.ownedFloats(maxBatch: 5) }
        let floats = net.input.count + 5 * (net.storedFloatsPerSample + (training ? net.storedGradientFloatsPerSample : 0)) + owned
        let footprint = NetworkFootprint(model: model, maxBatch: 5, training: training)
        #expect(footprint.bytes == 4 * (floats + net.labels.count), "\(config.name)")
        #expect(footprint.scratchBytes == 4 * net.context.scratch.count, "\(config.name)")
    }
}

@Test("the footprint counts the buffers layers own: LRN's scales and work planes, dropout's mask, batch norm's statistics")
func footprintCountsOwnedBuffers() throws {
    // The same network with one layer swapped for a sigmoid (same shapes, stores its output, owns nothing).
    func bytes(_ layer: String) throws -> Int {
        let yaml = """
        name: owned
        data: {dataset: synthetic, synthetic_count: 10, synthetic_classes: 3}
        model:
          input: [2, 4, 4]
          layers:
            - \(layer)
            - {type: flatten}
            - {type: dense, units: 3}
        train: {epochs: 1, batch: 10, optimizer: {lr: 0.1}}
        """
        let config = try RunConfig.parse(yaml: yaml, file: "owned.yaml")
        return NetworkFootprint(model: try config.model.build(), maxBatch: 5, training: true).bytes
    }
    let base = try bytes("{type: sigmoid}")
    // 5 samples x 32 scales, a 32-float term plane, a 16-float power plane.
    #expect(try bytes("{type: lrn, size: 3}") - base == 4 * (5 * 32 + 32 + 16))
    #expect(try bytes("{type: dropout, p: 0.5}") - base == 4 * 5 * 32)
    // 2 channels: 5 vectors and 2 x 2 + 1 doubles.
    #expect(try bytes("{type: batchnorm}") - base == 4 * (5 * 2 + 2 * 5))
}

@Test("the over-the-limit message names the file, the total, its parts and the limit")
func memoryErrorMessage() throws {
    let estimate = MemoryEstimate(weights: 3 << 29, gradientsAndMomentum: 5 << 30, activationsPerWorker: 700 << 20,
                                  workers: 2, data: 47_040_000)
    let limit = MemoryLimit(bytes: 4_096_000_000, source: "address-space limit, ulimit -v")
    #expect(throws: ConfigError("big.yaml: the run needs 7.9 GiB (weights 1.5 GiB, gradients and momentum 5.0 GiB, activations 2 workers x 700.0 MiB, data 44.9 MiB); the limit is 3.8 GiB (address-space limit, ulimit -v)")) {
        try estimate.check(against: limit, file: "big.yaml")
    }
    try estimate.check(against: MemoryLimit(bytes: estimate.total, source: "physical memory"), file: "big.yaml")
    try estimate.check(against: nil, file: "big.yaml")
}

@Test("memory limits: cgroup files (max, a number, absent), /proc/self/cgroup, the smallest")
func memoryLimitParsing() {
    #expect(MemoryLimit.parseCgroupLimit("max\n") == nil)
    #expect(MemoryLimit.parseCgroupLimit("2147483648\n") == 2_147_483_648)
    #expect(MemoryLimit.parseCgroupLimit(nil) == nil)
    #expect(MemoryLimit.parseCgroupLimit("lots") == nil)
    let v1 = "5:devices:/\n4:memory:/job/42\n0::/\n"
    #expect(MemoryLimit.cgroupPaths(v1).v1 == "/job/42" && MemoryLimit.cgroupPaths(v1).v2 == "/")
    #expect(MemoryLimit.cgroupPaths("3:cpu,memory:/a\n").v1 == "/a")
    #expect(MemoryLimit.cgroupPaths(nil).v1 == nil)
    let files = ["/sys/fs/cgroup/user.slice/job/memory.max": "1073741824\n", "/sys/fs/cgroup/memory.max": "max\n",
                 "/sys/fs/cgroup/memory/job/42/memory.limit_in_bytes": "9223372036854771712\n"]
    #expect(MemoryLimit.cgroup(procSelfCgroup: "0::/user.slice/job\n", read: { files[$0] })
            == MemoryLimit(bytes: 1 << 30, source: "cgroup memory.max"))
    #expect(MemoryLimit.cgroup(procSelfCgroup: "0::/\n", read: { files[$0] }) == nil)
    #expect(MemoryLimit.cgroup(procSelfCgroup: v1, read: { files[$0] })
            == MemoryLimit(bytes: 9_223_372_036_854_771_712, source: "cgroup memory.limit_in_bytes"))
    #expect(MemoryLimit.cgroup(procSelfCgroup: nil, read: { _ in nil }) == nil)
    let physical = MemoryLimit(bytes: 8 << 30, source: "physical memory")
    #expect(MemoryLimit.smallest([nil, physical, MemoryLimit(bytes: 1 << 40, source: "cgroup memory.max")]) == physical)
    #expect(MemoryLimit.smallest([nil, nil]) == nil)
}

@Test("an allocation the system refuses is an error naming its purpose")
func allocationFailureIsAnError() {
    #expect(throws: AllocationError(bytes: 1 << 52, purpose: "the weights")) {
        _ = try FloatBuffer(count: 1 << 50, purpose: "the weights")
    }
}

/// A conv2d of a million filters: 2.7 GB of activations per sample.
private let millionFiltersConfig = """
name: million
data: {dataset: synthetic, synthetic_count: 64, synthetic_classes: 10}
model:
  input: [1, 28, 28]
  layers:
    - {type: conv2d, filters: 1000000, kernel: 3}
    - {type: relu}
    - {type: flatten}
    - {type: dense, units: 10}
train: {epochs: 1, batch: 16, optimizer: {lr: 0.1}}
runtime: {shard: 8, workers: 2, bind: none}
"""

@Test("a run over the address-space limit: train and check fail with one line, exit 1, before allocating",
      .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
func runOverTheMemoryLimit() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let configURL = dir.appendingPathComponent("million.yaml")
    try millionFiltersConfig.write(to: configURL, atomically: true, encoding: .utf8)
    let config = try RunConfig.parse(yaml: millionFiltersConfig, file: configURL.path)
    let estimate = MemoryEstimate(config: config, model: try config.model.build(), workers: 2)
    let read = { (path: String) in try? String(contentsOfFile: path, encoding: .utf8) }
    let limit = try #require(MemoryLimit.smallest([MemoryLimit(bytes: 4_000_000 * 1024, source: "address-space limit, ulimit -v"),
                                                   MemoryLimit.cgroup(procSelfCgroup: read("/proc/self/cgroup"), read: read),
                                                   MemoryLimit.physical()]))
    let expected = "error: \(configURL.path): the run needs \(MemoryEstimate.format(estimate.total)) (\(estimate.parts)); "
        + "the limit is \(MemoryEstimate.format(limit.bytes)) (\(limit.source))\n"
    for command in ["train \(configURL.path) --out \(dir.appendingPathComponent("run").path)", "check \(configURL.path)"] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -v 4000000; exec \"$0\" \(command)", ptrainBinary.path]
        let log = dir.appendingPathComponent("out.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 1, "\(command)")
        #expect(try String(contentsOf: log, encoding: .utf8) == expected, "\(command)")
    }
}
