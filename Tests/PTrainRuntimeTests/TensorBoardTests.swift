import Testing
import Foundation
import PTrain
import PTrainReporting
import PTrainRuntime

/// Reads TFRecord framing back, checking both masked CRC-32C fields with an
/// independent bitwise CRC-32C (no table), and returns the record payloads.
func crc32c(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0x82F6_3B78 & (0 &- (crc & 1))) }
    }
    return ~crc
}

func readRecords(_ data: [UInt8]) -> [[UInt8]]? {
    func masked(_ c: UInt32) -> UInt32 { ((c >> 15) | (c << 17)) &+ 0xA282_EAD8 }
    func le32(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(data[i + $1]) << (8 * $1) } }
    var records: [[UInt8]] = []
    var i = 0
    while i < data.count {
        guard i + 12 <= data.count else { return nil }
        let length = (0..<8).reduce(0) { $0 | Int(data[i + $1]) << (8 * $1) }
        guard masked(crc32c(data[i..<(i + 8)])) == le32(i + 8), i + 12 + length + 4 <= data.count else { return nil }
        let payload = data[(i + 12)..<(i + 12 + length)]
        guard masked(crc32c(payload)) == le32(i + 12 + length) else { return nil }
        records.append(Array(payload))
        i += 12 + length + 4
    }
    return records
}

@Test("TensorBoard event files are valid TFRecords of Event protos with the scalars written")
func tensorBoardEvents() throws {
    // The checker's own CRC-32C against the standard check value of "123456789".
    #expect(crc32c(Array("123456789".utf8)[...]) == 0xE306_9283)
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (_, result) = try train(tinyConfig, overrides: ["train.epochs=2"], in: dir, tensorboard: true)
    #expect(result.steps == 8)
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tensorboard").path)
    #expect(files.count == 1 && files[0].hasPrefix("events.out.tfevents."))
    let bytes = Array(try Data(contentsOf: dir.appendingPathComponent("tensorboard/\(files[0])")))
    let records = try #require(readRecords(bytes))
    #expect(records.count == 3)  // file_version + one event per epoch
    #expect(String(decoding: records[0], as: UTF8.self).contains("brain.Event:2"))
    let last = String(decoding: records[2], as: UTF8.self)
    for tag in ["test/top1", "test/loss", "epoch/train_loss"] { #expect(last.contains(tag)) }
}
