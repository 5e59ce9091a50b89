import Testing
import Foundation

// tools/soak (kill-and-resume soak test) on a run of a few seconds: CI
// exercises the tool itself, and with it exact resume under SIGKILL, SIGTERM
// and a SIGKILL inside a checkpoint write.

/// tools/soak, found from the package root.
private let soakScript = packageRoot.appendingPathComponent("tools/soak")

/// A synthetic run of about three seconds: many step checkpoints to kill
/// between and inside.
private let soakConfig = """
name: soaked
seed: 3
data: {dataset: synthetic, synthetic_count: 4096, synthetic_classes: 10}
model:
  input: [1, 28, 28]
  layers:
    - {type: conv2d, filters: 6, kernel: 5, padding: 2}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: conv2d, filters: 16, kernel: 5}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: dense, units: 10}
train:
  epochs: 3
  batch: 32
  optimizer: {lr: 0.02, momentum: 0.9}
runtime: {shard: 8, bind: none}
checkpoint: {every_steps: 16, keep: 2}
"""

private struct SoakRun { let status: Int32; let output: String }

private func soak(_ arguments: [String]) throws -> SoakRun {
    let process = Process()
    process.executableURL = soakScript
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // The output is a few lines: reading it to the end before waiting cannot dead-lock.
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return SoakRun(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

@Suite("tools/soak", .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
struct SoakToolTests {
    @Test("up to three kills (SIGKILL, SIGTERM, SIGKILL aimed at a checkpoint write) and resumes end bitwise equal to the uninterrupted run")
    func threeKills() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("soaked.yaml")
        try soakConfig.write(to: config, atomically: true, encoding: .utf8)
        let run = try soak([config.path, "--kills", "3", "--seed", "2", "--binary", ptrainBinary.path,
                            "--out", dir.appendingPathComponent("soak").path])
        #expect(run.status == 0, "\(run.output)")
        let lines = run.output.split(separator: "\n")
        // How many planned kills land before the run ends depends on the
        // machine's load (an attempt may finish first), so the count and the
        // kinds are not asserted; the verdict is.
        let kills = lines.filter { $0.hasPrefix("kill ") }.count
        #expect((1...3).contains(kills), "\(run.output)")
        let summary = try #require(lines.last, "\(run.output)")
        #expect(summary.hasPrefix("soak: \(kills) kill"), "\(run.output)")
        #expect(summary.hasSuffix("): final weights bitwise identical to the uninterrupted run (6 tensors)"), "\(run.output)")
    }

    @Test("a kill count below one is a usage error naming --kills")
    func usage() throws {
        let run = try soak(["configs/lenet5-mnist.yaml", "--kills", "0", "--binary", ptrainBinary.path])
        #expect(run.status == 2)
        #expect(run.output.contains("tools/soak: error: --kills: expected a positive number, found 0"), "\(run.output)")
    }
}
