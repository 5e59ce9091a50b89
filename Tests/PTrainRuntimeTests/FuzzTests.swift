import Testing
import Foundation
import PTrain
import PTrainData
import PTrainRuntime

// Bad input never crashes: seeded mutations of configs, dataset files and
// checkpoints go through the real loaders. Each case must either load or
// fail with ptrain's own error type; a Swift trap would kill the test process
// (and fail CI). Case counts are bounded so the whole file runs in seconds.

/// Byte-level mutations: flips, deletions, insertions of interesting bytes,
/// duplicated ranges and truncation, all drawn from a seeded generator.
struct Mutator {
    var rng: CounterRNG
    init(seed: UInt64) { rng = CounterRNG(seed: seed, stream: .search) }

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        let interesting: [UInt8] = [0, 0xFF, 0x7F, 0x80, UInt8(ascii: "-"), UInt8(ascii: "9"), UInt8(ascii: "["),
                                    UInt8(ascii: "{"), UInt8(ascii: ":"), UInt8(ascii: "\n"), UInt8(ascii: " ")]
        for _ in 0..<(1 + rng.below(4)) {
            guard !bytes.isEmpty else { bytes = [interesting[rng.below(interesting.count)]]; continue }
            let i = rng.below(bytes.count)
            switch rng.below(6) {
            case 0: bytes[i] ^= UInt8(1 << rng.below(8))
            case 1: bytes.remove(at: i)
            case 2: bytes.insert(interesting[rng.below(interesting.count)], at: i)
            case 3: bytes[i] = interesting[rng.below(interesting.count)]
            case 4:
                let n = min(rng.below(16) + 1, bytes.count - i)
                bytes.insert(contentsOf: bytes[i..<(i + n)], at: i)
            default: bytes.removeSubrange(i...)
            }
        }
        return bytes
    }
}

/// Numbers a config mutator swaps in: huge, negative, zero, non-numeric.
let strangeValues = ["0", "-1", "99999999999999999999", "9223372036854775807", "1e300", "nan", ".inf", "[]", "{}",
                     "~", "\"x\"", "[1, 2, 3, 4]", "65536", "100000", "-0.5", "true"]

@Test("mutated configs load or fail with a ConfigError, never a trap")
func fuzzConfigs() {
    var m = Mutator(seed: 1)
    let base = Array(tinyConfig.utf8)
    var loaded = 0, rejected = 0
    for i in 0..<3000 {
        var text: String
        if i % 2 == 0 {
            text = String(decoding: m.mutate(base), as: UTF8.self)
        } else {
            // Replace one number of the config by a strange value.
            var t = tinyConfig
            let numbers = t.ranges(of: /\d+(\.\d+)?/)
            if !numbers.isEmpty {
                let r = numbers[m.rng.below(numbers.count)]
                t.replaceSubrange(r, with: strangeValues[m.rng.below(strangeValues.count)])
            }
            text = t
        }
        do {
            let config = try RunConfig.parse(yaml: text, file: "fuzz.yaml")
            let model = try config.model.build()
            _ = ModelSummary(model: model).table
            loaded += 1
        } catch is ConfigError {
            rejected += 1
        } catch {
            Issue.record("case \(i): unexpected error type \(type(of: error)): \(error)")
        }
    }
    #expect(loaded > 0 && rejected > 0)
}

@Test("mutated IDX, CIFAR-10 and digits files load or fail with a DataError, never a trap")
func fuzzDatasets() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var m = Mutator(seed: 2)
    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    let images = be32(0x803) + be32(3) + be32(4) + be32(4) + (0..<48).map { UInt8($0 * 5) }
    let labels = be32(0x801) + be32(3) + [1, 7, 9]
    let cifar = (0..<2).flatMap { r in [UInt8(r * 3)] + (0..<3072).map { UInt8(truncatingIfNeeded: $0 &+ r) } }
    let digits = Array((0..<5).map { r in (0..<64).map { String(($0 + r) % 17) }.joined(separator: ",") + ",\(r)" }.joined(separator: "\n").utf8)
    var outcomes = [0, 0]
    for i in 0..<1500 {
        let imagesURL = dir.appendingPathComponent("train-images-idx3-ubyte"), labelsURL = dir.appendingPathComponent("train-labels-idx1-ubyte")
        let cifarURL = dir.appendingPathComponent("data_batch_1.bin"), digitsURL = dir.appendingPathComponent("digits.csv")
        try Data(i % 3 == 0 ? m.mutate(images) : images).write(to: imagesURL)
        try Data(i % 3 == 1 ? m.mutate(labels) : labels).write(to: labelsURL)
        try Data(m.mutate(cifar)).write(to: cifarURL)
        try Data(m.mutate(digits)).write(to: digitsURL)
        for load in [{ _ = try IDXReader.read(images: imagesURL, labels: labelsURL, name: "fuzz", classes: 10) },
                     { _ = try CIFARReader.cifar10.read(batches: [cifarURL], name: "fuzz") },
                     { _ = try DigitsCSVReader.readAll(digitsURL, name: "fuzz") }] as [() throws -> Void] {
            do { try load(); outcomes[0] += 1 } catch is DataError { outcomes[1] += 1 } catch {
                Issue.record("case \(i): unexpected error type \(type(of: error)): \(error)")
            }
        }
    }
    #expect(outcomes[0] > 0 && outcomes[1] > 0)
}

@Test("mutated checkpoints and safetensors files are detected, never a trap")
func fuzzCheckpoints() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (checkpoint, config) = try tinyCheckpoint(step: 3)
    let model = try config.model.build()
    let url = try checkpoint.write(in: dir, name: "step-00000003")
    let files = ["weights.safetensors", "optimizer.safetensors", "state.json"]
    let originals = try files.map { Array(try Data(contentsOf: url.appendingPathComponent($0))) }
    var m = Mutator(seed: 3)
    var detected = 0
    let arena = FloatBuffer(count: model.layout.totalCount)
    for i in 0..<600 {
        let f = i % files.count
        let mutated = m.mutate(originals[f])
        try Data(mutated).write(to: url.appendingPathComponent(files[f]))
        do {
            let c = try Checkpoint.read(url)
            try model.layout.load(c.weights, into: arena.pointer, file: "w")
        } catch is Checkpoint.LoadError {
            detected += 1
        } catch is ConfigError {
            detected += 1
        } catch {
            Issue.record("case \(i): unexpected error type \(type(of: error)): \(error)")
        }
        // The bare safetensors decoder on its own, too.
        do { _ = try Safetensors.decode(Data(mutated), file: "fuzz") } catch is Safetensors.FormatError {} catch {
            Issue.record("case \(i): safetensors: unexpected error type \(type(of: error))")
        }
        try Data(originals[f]).write(to: url.appendingPathComponent(files[f]))
    }
    #expect(detected > 500)
}
