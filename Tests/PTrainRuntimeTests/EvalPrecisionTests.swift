import Foundation
import PTrain
import PTrainKernels
import PTrainRuntime
import Testing

// `ptrain eval` and `ptrain predict` build their networks in the config's
// runtime.precision, as the run's own evaluations did: a bf16 run is
// evaluated in bf16, not silently in fp32.

@Test("ptrain eval computes in the config's runtime.precision: bf16 logits differ from fp32 ones, or bf16 is refused on a CPU without it",
      .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
func evalUsesTheConfiguredPrecision() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let config = dir.appendingPathComponent("tiny.yaml")
    try tinyConfig.write(to: config, atomically: true, encoding: .utf8)
    let (checkpoint, _) = try tinyCheckpoint(step: 3)
    let saved = try CheckpointStore(directory: dir.appendingPathComponent("checkpoints"), keep: 1, best: .none)
        .save(checkpoint, isBest: false)
    func eval(_ precision: String) throws -> (status: Int32, log: String, logits: String?) {
        let log = dir.appendingPathComponent("\(precision).log"), logits = dir.appendingPathComponent("\(precision).csv")
        let status = try runToEnd(["eval", config.path, "--checkpoint", saved.path, "--set", "runtime.precision=\(precision)",
                                   "--logits", logits.path], log: log)
        return (status, try String(contentsOf: log, encoding: .utf8), try? String(contentsOf: logits, encoding: .utf8))
    }
    let fp32 = try eval("fp32"), bf16 = try eval("bf16")
    #expect(fp32.status == 0, "\(fp32.log)")
    #expect(fp32.logits?.split(separator: "\n").count == 64)
    if BF16Support.available {
        #expect(bf16.status == 0, "\(bf16.log)")
        #expect(bf16.logits?.split(separator: "\n").count == 64)
        #expect(bf16.logits != fp32.logits, "bf16 evaluation gave fp32's logits")
    } else {
        #expect(bf16.status == 1)
        #expect(bf16.log.hasPrefix("error: runtime.precision: bf16 needs AVX512_BF16 (vdpbf16ps); this CPU ("))
    }
}
