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
