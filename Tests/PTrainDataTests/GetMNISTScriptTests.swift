import Foundation
import PTrainData
import Testing

// tools/get-mnist cannot reach the real servers in tests; these run its usage,
// --check and checksum paths, and its download path against file:// "mirrors"
// (MNIST_MIRRORS) holding either garbage or copies of the real files.

/// tools/get-mnist, found from this file: Tests/PTrainDataTests/ -> package root.
private let script = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("tools/get-mnist")

private let mnistFiles = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]

private struct Run { let status: Int32; let output: String; let errors: String }

private func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [script.path] + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Small outputs: reading both to the end after exit cannot dead-lock on the pipes.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self),
               errors: String(decoding: errData, as: UTF8.self))
}

private let hasCurl = FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")

@Suite("tools/get-mnist", .enabled(if: FileManager.default.fileExists(atPath: script.path), "tools/get-mnist not found"))
struct GetMNISTScriptTests {
    @Test func usage() throws {
        let help = try run(["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("Usage: get-mnist [--check] [DIR]"))
        #expect(help.output.contains("http://yann.lecun.com/exdb/mnist/"))
        let bad = try run(["--frobnicate"])
        #expect(bad.status == 2)
        #expect(bad.errors.contains("get-mnist: unknown option '--frobnicate'"))
        let two = try run(["a", "b"])
        #expect(two.status == 2)
        #expect(two.errors.contains("too many arguments"))
    }

    @Test func embeddedSumsMatchSharedSHA256SUMS() throws {
        let text = try String(contentsOf: script, encoding: .utf8)
        for (name, sum) in [("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                            ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
                            ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                            ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")] {
            #expect(text.contains("[\(name)]=\(sum)"))
        }
        if let ptrainData {
            let sums = try String(contentsOfFile: ptrainData + "/mnist/SHA256SUMS", encoding: .utf8)
            for line in sums.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                #expect(text.contains("[\(parts[1])]=\(parts[0])"))
            }
        }
    }

    @Test func checkRejectsMissingAndWrongFiles() throws {
        try withTemporaryDirectory { dir in
            try write(Array("not mnist".utf8), "train-images-idx3-ubyte.gz", in: dir)
            let result = try run(["--check", dir.path])
            #expect(result.status == 1)
            #expect(result.output.contains("\(dir.path)/train-images-idx3-ubyte.gz: checksum mismatch: expected SHA-256 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609, found "))
            #expect(result.output.contains("\(dir.path)/t10k-labels-idx1-ubyte.gz: missing"))
            let none = try run(["--check", dir.appendingPathComponent("nowhere").path])
            #expect(none.status == 1)
            #expect(none.errors.contains("no such directory"))
        }
    }

    @Test(.enabled(if: hasCurl, "curl not installed"))
    func downloadDiscardsBadFilesAndFailsWithoutAGoodSource() throws {
        try withTemporaryDirectory { dir in
            let bad = dir.appendingPathComponent("bad-mirror")
            try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: false)
            for name in mnistFiles { try write(Array("garbage".utf8), name, in: bad) }
            let target = dir.appendingPathComponent("out/mnist")
            let result = try run([target.path], environment: ["MNIST_MIRRORS": "file://\(bad.path)/"])
            #expect(result.status == 1)
            #expect(result.errors.contains("checksum mismatch"))
            #expect(result.errors.contains("get-mnist: could not get a verified train-images-idx3-ubyte.gz from any source"))
            // Nothing unverified is left behind, not even a .part file.
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == [])
        }
    }

    @Test(.enabled(if: hasCurl, "curl not installed"))
    func unreachableSourcesAreReportedOnceEach() throws {
        try withTemporaryDirectory { dir in
            // Nothing listens on ports 1 and 9 of the loopback: connection refused at once, as offline.
            let mirrors = ["http://127.0.0.1:1/", "http://127.0.0.1:9/"]
            let result = try run([dir.appendingPathComponent("mnist").path], environment: ["MNIST_MIRRORS": mirrors.joined(separator: " ")])
            #expect(result.status == 1)
            let lines = result.errors.split(separator: "\n")
            // One line per source (not per file and source), then one summary naming each cause.
            #expect(lines.count == 3, "\(result.errors)")
            #expect(lines.filter { $0.contains("curl: (7)") && $0.hasPrefix("  failed to download") }.count == 2)
            #expect(lines.last?.hasPrefix("get-mnist: cannot download MNIST: no source could be reached (http://127.0.0.1:1/: curl: (7) ") == true)
            #expect(!result.output.contains("t10k"), "a file after the first was still tried")
        }
    }

    @Test(.enabled(if: hasCurl && ptrainData != nil, "needs curl and PTRAIN_DATA (the real MNIST files serve as a file:// mirror)"))
    func downloadFallsBackToTheNextMirrorAndVerifies() throws {
        try withTemporaryDirectory { dir in
            let bad = dir.appendingPathComponent("bad-mirror")
            try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: false)
            for name in mnistFiles { try write(Array("garbage".utf8), name, in: bad) }
            let good = URL(fileURLWithPath: ptrainData!).appendingPathComponent("mnist")
            let target = dir.appendingPathComponent("data/mnist")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            try write(Array("stale".utf8), "t10k-labels-idx1-ubyte.gz", in: target)  // replaced, since its sum is wrong
            let mirrors = "file://\(dir.path)/no-such-mirror/ file://\(bad.path)/ file://\(good.path)/"
            let result = try run([target.path], environment: ["MNIST_MIRRORS": mirrors])
            #expect(result.status == 0, "\(result.output)\(result.errors)")
            #expect(result.output.contains("\(target.path)/t10k-labels-idx1-ubyte.gz: present but checksum mismatch"))
            #expect(result.output.contains("export PTRAIN_DATA=\(dir.appendingPathComponent("data").path)"))
            #expect(try run(["--check", target.path]).status == 0)
            // A second run keeps the verified files and downloads nothing.
            let again = try run([target.path], environment: ["MNIST_MIRRORS": "file://\(bad.path)/"])
            #expect(again.status == 0)
            #expect(again.output.components(separatedBy: "already present, checksum OK").count == 5)
            // And ptrain reads what it fetched.
            let set = try DatasetLoader.load(.mnist, split: .test, directory: target)
            #expect(set.count == 10000)
        }
    }
}
