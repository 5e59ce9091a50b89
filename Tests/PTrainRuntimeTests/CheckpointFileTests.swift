import Foundation
import PTrain
import PTrainExperiments
import PTrainReporting
import PTrainRuntime
import Testing

// A checkpoint, --resume or eval argument that is not what it claims: FIFOs
// (which would block a reader forever), directories, truncated state.json.

/// A named pipe at `url`, replacing whatever is there.
private func makeFIFO(_ url: URL) throws {
    try? FileManager.default.removeItem(at: url)
    guard mkfifo(url.path, 0o644) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
}

/// A checkpoint written by the store, in a fresh directory.
private func savedCheckpoint(in dir: URL) throws -> URL {
    let (checkpoint, _) = try tinyCheckpoint(step: 3)
    return try CheckpointStore(directory: dir, keep: 2, best: .none).save(checkpoint, isBest: false)
}

@Test("checkpoint files that are FIFOs or directories are refused by kind, before any is opened")
func checkpointFilesMustBeRegular() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = try savedCheckpoint(in: dir)
    let state = url.appendingPathComponent("state.json")
    try makeFIFO(state)
    #expect(throws: Checkpoint.LoadError(description: "\(state.path): is a FIFO (named pipe), not a regular file")) {
        _ = try Checkpoint.read(url)
    }
    let url2 = try savedCheckpoint(in: temporaryDirectory())
    let weights = url2.appendingPathComponent("weights.safetensors")
    try FileManager.default.removeItem(at: weights)
    try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: false)
    #expect(throws: Checkpoint.LoadError(description: "\(weights.path): is a directory, not a regular file")) {
        _ = try Checkpoint.read(url2)
    }
    try FileManager.default.removeItem(at: weights)
    #expect(throws: Checkpoint.LoadError(description: "\(url2.path): weights.safetensors is missing")) {
        _ = try Checkpoint.read(url2)
    }
    try FileManager.default.removeItem(at: url2.deletingLastPathComponent())

    // The checkpoint itself (or --resume's argument) a FIFO.
    let pipe = dir.appendingPathComponent("pipe")
    try makeFIFO(pipe)
    #expect(throws: Checkpoint.LoadError(description: "\(pipe.path): expected a checkpoint directory, found a FIFO (named pipe)")) {
        _ = try Checkpoint.read(pipe)
    }
    #expect(throws: RunError("--resume \(pipe.path): expected a run directory or a checkpoint directory (step-NNNNNNNN), found a FIFO (named pipe)")) {
        _ = try CheckpointStore.resolve(pipe.path)
    }
}

@Test("a state.json cut short says it is truncated; a complete foreign one is not a checkpoint state")
func truncatedStateJSON() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = try savedCheckpoint(in: dir)
    let state = url.appendingPathComponent("state.json")
    let text = try Data(contentsOf: state)
    for cut in [text.count - 2, text.count / 2, 1] {
        try text.prefix(cut).write(to: state)
        #expect(throws: Checkpoint.LoadError(description: "\(url.path): state.json is truncated (\(cut) bytes; the JSON ends early)")) {
            _ = try Checkpoint.read(url)
        }
    }
    try Data("{\"format\": \"something-else\"}\n".utf8).write(to: state)
    #expect(throws: Checkpoint.LoadError(description: "\(url.path): state.json is not a ptrain checkpoint state (corrupted or foreign file)")) {
        _ = try Checkpoint.read(url)
    }
    try FileManager.default.removeItem(at: state)
    #expect(throws: Checkpoint.LoadError(description: "\(url.path): not a ptrain checkpoint (no state.json)")) {
        _ = try Checkpoint.read(url)
    }
}

@Test("ptrain eval --checkpoint FIFO fails at once with one error line (killed after 20 s if it hangs)",
      .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
func evalRefusesAFIFO() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let config = dir.appendingPathComponent("tiny.yaml")
    try tinyConfig.write(to: config, atomically: true, encoding: .utf8)
    let pipe = dir.appendingPathComponent("weights.safetensors")
    try makeFIFO(pipe)
    let log = dir.appendingPathComponent("log")
    let p = try launch(["eval", config.path, "--checkpoint", pipe.path], log: log)
    let hung = waitForExit(p, seconds: 20, "ptrain eval --checkpoint FIFO")
    #expect(!hung, "ptrain eval blocked on the FIFO")
    #expect(p.terminationStatus == 1)
    #expect(try String(contentsOf: log, encoding: .utf8) == "error: \(pipe.path): is a FIFO (named pipe), not a regular file\n")
}

@Test("a search file's base may be an absolute path")
func searchBaseMayBeAbsolute() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let models = dir.appendingPathComponent("models")
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    try tinyConfig.write(to: models.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
    let search = dir.appendingPathComponent("searches/s.yaml")
    try FileManager.default.createDirectory(at: search.deletingLastPathComponent(), withIntermediateDirectories: true)
    try """
    base: \(models.path)/tiny.yaml
    method: {type: grid, epochs: 1}
    space:
      train.optimizer.lr: {choice: [0.05, 0.2]}
    """.write(to: search, atomically: true, encoding: .utf8)
    #expect(try SearchSpec.load(file: search.path).base == models.appendingPathComponent("tiny.yaml").path)
}

@Test("chart tick labels: whole numbers without decimals, fractions with the digits they need")
func chartTickLabels() {
    #expect(SVGChart.tickLabel(1) == "1")
    #expect(SVGChart.tickLabel(8) == "8")
    #expect(SVGChart.tickLabel(0) == "0")
    #expect(SVGChart.tickLabel(-0.0) == "0")
    #expect(SVGChart.tickLabel(2400) == "2400")
    #expect(SVGChart.tickLabel(2.4) == "2.4")
    #expect(SVGChart.tickLabel(0.25) == "0.25")
    #expect(SVGChart.tickLabel(0.1 + 0.2) == "0.3")  // rounding noise dropped
    #expect(SVGChart.tickLabel(-1.5) == "-1.5")
    #expect(SVGChart.tickLabel(0.0125) == "0.0125")
    let svg = SVGChart(title: "t", xLabel: "epoch", yLabel: "top-1", series: [.init(name: "s", points: [(1, 0.5), (8, 0.9)], color: "red")]).render()
    #expect(svg.contains(">1</text>") && svg.contains(">8</text>") && !svg.contains("1.00"))
}
