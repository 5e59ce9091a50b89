import CBuildInfo
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainRuntime
import Testing

/// Runs `ptrain ARGS` to the end; returns its exit status and output (stdout then stderr, merged).
private func ptrain(_ args: [String], in dir: URL) throws -> (status: Int32, output: String) {
    let log = dir.appendingPathComponent("ptrain-\(UUID().uuidString).log")
    let status = try runToEnd(args, log: log)
    return (status, try String(contentsOf: log, encoding: .utf8))
}

/// `ptrain_cpu_check` on Swift strings: nil when the CPU passes, else the message.
private func cpuCheck(target: String, required: String, available: String, model: String = "Test CPU") -> String? {
    var message = [CChar](repeating: 0, count: 2048)
    let failed = ptrain_cpu_check(target, required, available, model, &message, message.count)
    return failed == 0 ? nil : string(message)
}

/// A NUL-terminated C buffer as a String.
private func string(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private let v3 = "sse4_2 popcnt avx avx2 fma bmi1 bmi2 f16c movbe abm"
private let v4 = v3 + " avx512f avx512bw avx512vl avx512dq avx512cd"

@Test("the CPU check names the target, its needs, the CPU, what it lacks and the widest target that fits")
func cpuCheckMessage() {
    let message = cpuCheck(target: "x86-64-v4", required: v4, available: v3 + " avx512f avx512vl avx512dq avx512cd")
    #expect(message == "this ptrain was built for x86-64-v4 (needs sse4_2, popcnt, avx, avx2, fma, bmi1, bmi2, f16c, movbe, abm, "
        + "avx512f, avx512bw, avx512vl, avx512dq, avx512cd); this CPU (Test CPU) lacks avx512bw. Rebuild with PTRAIN_TARGET_CPU=x86-64-v3")
    #expect(cpuCheck(target: "x86-64-v3", required: v3, available: "sse4_2 avx")?
        .hasSuffix("lacks popcnt, avx2, fma, bmi1, bmi2, f16c, movbe, abm. Rebuild with PTRAIN_TARGET_CPU=native") == true)
}

@Test("the CPU check passes when every checkable feature is there, and ignores flags it cannot check (native's fpu, ht ...)")
func cpuCheckPasses() {
    #expect(cpuCheck(target: "x86-64-v4", required: v4, available: v4) == nil)
    #expect(cpuCheck(target: "native", required: "fpu vme ht " + v3, available: v3) == nil)
    #expect(ptrain_feature_is_checkable("avx512bw") == 1 && ptrain_feature_is_checkable("fpu") == 0)
    // This binary runs, so this CPU has what it was built for.
    var available = [CChar](repeating: 0, count: 1024)
    ptrain_available_features(&available, available.count)
    #expect(cpuCheck(target: BuildInfo.current.targetCPU, required: BuildInfo.current.requiredFeatures.joined(separator: " "),
                     available: string(available)) == nil)
}

@Test("CPUInfo keeps the model and only the vector-relevant flags of the first processor")
func cpuInfoParse() {
    let text = """
    processor\t: 0
    model name\t: AMD EPYC 9R14 96-Core Processor
    flags\t\t: fpu vme sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512bw avx512_bf16 avx512_vnni amx_tile erms

    processor\t: 1
    model name\t: other
    """
    let info = CPUInfo(cpuinfo: text)
    #expect(info.model == "AMD EPYC 9R14 96-Core Processor")
    #expect(info.vectorFlags == ["fma", "sse4_2", "avx", "f16c", "avx2", "avx512f", "avx512bw", "avx512_bf16", "avx512_vnni", "amx_tile"])
    #expect(CPUInfo(cpuinfo: "").model == "unknown")
}

@Test("a short training run writes environment.json: build, CPU, topology, worker placement, host, command, start time, data",
      .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
func trainingRunWritesEnvironment() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let config = dir.appendingPathComponent("tiny.yaml")
    try """
    name: tiny
    data: {dataset: synthetic, synthetic_count: 64, synthetic_classes: 10}
    model: {input: [1, 8, 8], layers: [{type: flatten}, {type: dense, units: 10}]}
    train: {epochs: 1, batch: 16, optimizer: {lr: 0.1}}
    """.write(to: config, atomically: true, encoding: .utf8)
    let run = dir.appendingPathComponent("run")
    let before = Date().addingTimeInterval(-1)
    let result = try ptrain(["train", config.path, "--out", run.path, "--workers", "1"], in: dir)
    #expect(result.status == 0, "\(result.output)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("environment.json"))) as? [String: Any])
    #expect(Set(json.keys) == ["build", "cpu", "topology", "workers", "host", "command_line", "start_time", "dataset_files"])
    let build = try #require(json["build"] as? [String: Any])
    #expect(Set(build.keys) == ["version", "commit", "uncommitted_changes", "swift_compiler", "clang", "configuration",
                                "target_cpu", "flags", "required_features"])
    let commit = try #require(build["commit"] as? String)
    #expect(commit == "unknown" || commit.count == 40 && commit.allSatisfy(\.isHexDigit), "\(commit)")
    #expect(build["configuration"] as? String == "release")
    #expect((build["flags"] as? String)?.hasPrefix("-target-cpu ") == true)
    let cpu = try #require(json["cpu"] as? [String: Any])
    #expect((cpu["model"] as? String)?.isEmpty == false)
    #if arch(x86_64)
    #expect((cpu["vector_flags"] as? [String])?.contains("avx2") == true)
    #endif
    let topology = try #require(json["topology"] as? [String: Int])
    #expect(Set(topology.keys) == ["packages", "numa_nodes", "machine_cores", "machine_pus", "allowed_cores", "allowed_pus"])
    #expect(topology["packages"]! >= 1 && topology["allowed_cores"]! >= 1 && topology["machine_pus"]! >= topology["allowed_pus"]!)
    let workers = try #require(json["workers"] as? [[String: Any]])
    #expect(workers.count == 1 && workers[0]["worker"] as? Int == 0 && workers[0]["core"] as? Int == 0)
    #expect((workers[0]["pus"] as? [Int])?.isEmpty == false)
    #expect((json["host"] as? String)?.isEmpty == false)
    #expect((json["command_line"] as? [String])?.dropFirst() == ["train", config.path, "--out", run.path, "--workers", "1"])
    let start = try #require(ISO8601DateFormatter().date(from: json["start_time"] as? String ?? ""))
    #expect((json["start_time"] as? String)?.hasSuffix("Z") == true && start >= before && start <= Date())
    #expect((json["dataset_files"] as? [Any])?.isEmpty == true)
}

@Test("ptrain --version prints the version and commit, then the build target",
      .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
func versionOutput() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try ptrain(["--version"], in: dir)
    #expect(result.status == 0)
    let lines = result.output.split(separator: "\n").map(String.init)
    #expect(lines.count == 2, "\(result.output)")
    #expect(lines.first?.hasPrefix("ptrain \(BuildInfo.ptrainVersion) (commit \(BuildInfo.current.commit)") == true, "\(result.output)")
    #expect(lines.last?.hasPrefix("built for \(BuildInfo.current.targetCPU) (-target-cpu ") == true, "\(result.output)")
    #expect(lines.last?.hasSuffix(", release, Swift \(BuildInfo.current.swiftCompiler)") == true, "\(result.output)")
}

@Test("bench --json carries the environment record as its last key, and stays one JSON object")
func benchJSONEnvironment() throws {
    let json = Benchmark.json(sampleReport(), environment: "{\"host\":\"h\"}")
    #expect(json.hasSuffix("}],\"environment\":{\"host\":\"h\"}}"))
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    #expect((object["environment"] as? [String: String]) == ["host": "h"])
    #expect(!Benchmark.json(sampleReport()).contains("environment"))
}
