import Foundation
import PTrain
import PTrainData
import Testing

@Test("FileChecksum: size and zlib CRC-32 of a known file, across the 1 MiB read chunks")
func fileChecksumKnownValues() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptrain-crc-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let check = dir.appendingPathComponent("check.txt")
    try Data("123456789".utf8).write(to: check)
    let sum = try FileChecksum(check)
    #expect(sum.path == check.path && sum.bytes == 9 && sum.crc32 == "cbf43926")
    // 3 MiB + 1 byte of one pattern: the chunks must chain into the whole file's CRC (the table implementation agrees).
    let bytes = (0..<(3 << 20) + 1).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    let big = dir.appendingPathComponent("big.bin")
    try Data(bytes).write(to: big)
    #expect(try FileChecksum(big).crc32 == String(format: "%08x", CRC32.checksum(bytes)))
    let missing = dir.appendingPathComponent("missing")
    #expect(throws: DataError("\(missing.path): cannot open to checksum (No such file or directory)")) { try FileChecksum(missing) }
}

@Test("DataSources.files lists what the loader reads, each file once (digits: one CSV for both splits); none for synthetic")
func dataSourceFiles() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptrain-files-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try Data("0,1\n".utf8).write(to: dir.appendingPathComponent("digits.csv.gz"))
    let model = "model: {input: [1, 8, 8], layers: [{type: flatten}, {type: dense, units: 10}]}\ntrain: {epochs: 1, batch: 8, optimizer: {lr: 0.1}}"
    let digits = try RunConfig.parse(yaml: "data: {dataset: digits, path: \(dir.path)}\n\(model)", file: "t.yaml")
    #expect(try DataSources.files(digits.data) == [dir.appendingPathComponent("digits.csv.gz")])
    let synthetic = try RunConfig.parse(yaml: "data: {dataset: synthetic}\n\(model)", file: "t.yaml")
    #expect(try DataSources.files(synthetic.data).isEmpty)
}
