import Testing
import Foundation
import PTrain

@Test("safetensors round-trips tensors and metadata, with the format's exact header layout")
func safetensorsRoundTrip() throws {
    let tensors = [Safetensors.Tensor(name: "0.weight", shape: [2, 1, 1, 3], values: [1, 2, 3, 4, 5, 6]),
                   Safetensors.Tensor(name: "0.bias", shape: [2], values: [-1, 0.5])]
    let data = Safetensors.encode(tensors, metadata: ["epoch": "3"])
    let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    #expect(headerLength % 8 == 0)
    let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
    let w = header["0.weight"] as! [String: Any]
    #expect(w["dtype"] as? String == "F32" && w["shape"] as? [Int] == [2, 1, 1, 3] && w["data_offsets"] as? [Int] == [0, 24])
    #expect((header["0.bias"] as! [String: Any])["data_offsets"] as? [Int] == [24, 32])
    #expect(data.count == 8 + headerLength + 32)
    let decoded = try Safetensors.decode(data, file: "x.safetensors")
    #expect(decoded.tensors == tensors)
    #expect(decoded.metadata == ["epoch": "3"])
}

@Test("truncated or foreign files are clear errors")
func safetensorsErrors() {
    let good = Safetensors.encode([Safetensors.Tensor(name: "w", shape: [4], values: [1, 2, 3, 4])])
    func message(_ d: Data) -> String? {
        do { _ = try Safetensors.decode(d, file: "f.st"); return nil } catch { return "\(error)" }
    }
    #expect(message(Data([1, 2, 3])) == "f.st: byte offset 0: expected an 8-byte safetensors header length, found a 3-byte file")
    #expect(message(good.prefix(good.count - 4))?.hasSuffix("but the file has \(good.count - 4) bytes (truncated)") == true)
    #expect(message(Data("PK\u{3}\u{4}zipfile-not-safetensors".utf8))?.contains("exceeds the file size") == true)
}

@Test("weights load back into a model by name and refuse another model's")
func modelWeightsRoundTrip() throws {
    let c = try RunConfig.parse(yaml: baseConfig, file: "t.yaml")
    let model = try c.model.build()
    let a = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(a, seed: 5)
    let tensors = model.layout.tensors(from: a.pointer)
    #expect(tensors.map(\.name) == ["0.weight", "0.bias", "4.weight", "4.bias"])
    #expect(tensors[0].shape == [4, 1, 3, 3] && tensors[2].shape == [10, 36])
    let b = FloatBuffer(count: model.layout.totalCount)
    try model.layout.load(tensors, into: b.pointer, file: "w")
    #expect(a.array == b.array)
    let other = try RunConfig.parse(yaml: baseConfig, file: "t.yaml", overrides: ["model.layers[0].filters=5"]).model.build()
    #expect(throws: ConfigError("w: the weights do not match the model: tensor '0.weight': the model has shape [5, 1, 3, 3], the file [4, 1, 3, 3]; tensor '0.bias': the model has shape [5], the file [4]; tensor '4.weight': the model has shape [10, 45], the file [10, 36]")) {
        let arena = FloatBuffer(count: other.layout.totalCount)
        try other.layout.load(tensors, into: arena.pointer, file: "w")
    }
}

/// A safetensors file with this exact header text (so tests can write what
/// the encoder never would) followed by `dataBytes` zero bytes.
private func rawSafetensors(header: String, dataBytes: Int) -> Data {
    var out = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(Data(header.utf8))
    out.append(Data(count: dataBytes))
    return out
}

private func decodeError(_ d: Data) -> String? {
    do { _ = try Safetensors.decode(d, file: "f.st"); return nil } catch { return "\(error)" }
}

@Test("safetensors data_offsets must tile the data section: no overlap, no gap, no trailing bytes")
func safetensorsOffsetsTileTheData() throws {
    func entry(_ name: String, _ count: Int, _ begin: Int) -> String {
        "\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(count)],\"data_offsets\":[\(begin),\(begin + 4 * count)]}"
    }
    // The header is 8 + H bytes long, so data offset k is file byte offset 8 + H + k.
    func file(_ entries: [String], dataBytes: Int) -> (Data, Int) {
        let header = "{" + entries.joined(separator: ",") + "}"
        return (rawSafetensors(header: header, dataBytes: dataBytes), 8 + header.utf8.count)
    }
    // Listed out of order but tiling exactly: fine, returned in offset order.
    let (good, _) = file([entry("b", 2, 8), entry("a", 2, 0)], dataBytes: 16)
    #expect(try Safetensors.decode(good, file: "f.st").tensors.map(\.name) == ["a", "b"])

    let (overlap, s1) = file([entry("a", 4, 0), entry("b", 2, 8)], dataBytes: 16)
    #expect(decodeError(overlap) == "f.st: tensors 'a' (bytes \(s1)..<\(s1 + 16)) and 'b' (bytes \(s1 + 8)..<\(s1 + 16)) overlap")
    let (gap, s2) = file([entry("a", 1, 0), entry("b", 2, 8)], dataBytes: 16)
    #expect(decodeError(gap) == "f.st: bytes \(s2 + 4)..<\(s2 + 8) belong to no tensor (a gap after tensor 'a', before tensor 'b')")
    let (leading, s3) = file([entry("a", 1, 4)], dataBytes: 8)
    #expect(decodeError(leading) == "f.st: bytes \(s3)..<\(s3 + 4) belong to no tensor (a gap at the start of the data, before tensor 'a')")
    let (trailing, s4) = file([entry("a", 1, 0)], dataBytes: 12)
    #expect(decodeError(trailing) == "f.st: bytes \(s4 + 4)..<\(s4 + 12) belong to no tensor (8 trailing bytes after tensor 'a')")
}

@Test("a tensor named twice in a safetensors header is refused as a duplicate, with both byte offsets")
func safetensorsDuplicateNames() {
    let a1 = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"
    let a2 = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}"
    let header = "{\"w\":\(a1),\"w\":\(a2)}"
    let second = 8 + header.utf8.count - 1 - a2.utf8.count - 4  // the second "w": quote, w, quote, colon before a2
    #expect(decodeError(rawSafetensors(header: header, dataBytes: 12))
            == "f.st: byte offset \(second): tensor 'w' is named twice in the header (first at byte offset 9)")
    // Escapes are decoded before comparing: "\u0077" is "w" too; nested keys are not names.
    let escaped = "{\"w\":\(a1),\"\\u0077\":\(a2)}"
    #expect(decodeError(rawSafetensors(header: escaped, dataBytes: 12))?.contains("tensor 'w' is named twice") == true)
    let nested = "{\"__metadata__\":{\"w\":\"x\",\"format\":\"pt\"},\"w\":\(a1)}"
    #expect(decodeError(rawSafetensors(header: nested, dataBytes: 4)) == nil)
}
