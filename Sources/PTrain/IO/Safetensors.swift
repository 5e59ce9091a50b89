import Foundation

/// The safetensors format (what Python's `safetensors.torch.load_file` reads):
/// an 8-byte little-endian header length, a JSON header mapping each tensor
/// name to `{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}`
/// (offsets into the data section) plus an optional `__metadata__` map of
/// strings, then the raw little-endian data.
public enum Safetensors {
    public struct Tensor: Equatable, Sendable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]
        public init(name: String, shape: [Int], values: [Float]) { self.name = name; self.shape = shape; self.values = values }
    }

    public struct FormatError: Error, CustomStringConvertible { public let description: String }

    /// Encodes F32 tensors in the given order, with string metadata.
    public static func encode(_ tensors: [Tensor], metadata: [String: String] = [:]) -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * 4
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces to 8-byte alignment, as the reference writer does.
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for t in tensors { t.values.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Decodes a safetensors file's bytes; `file` names it in errors.
    /// Tensors come back in data-offset order.
    public static func decode(_ data: Data, file: String) throws -> (tensors: [Tensor], metadata: [String: String]) {
        func fail(_ m: String) -> FormatError { FormatError(description: "\(file): \(m)") }
        guard data.count >= 8 else { throw fail("byte offset 0: expected an 8-byte safetensors header length, found a \(data.count)-byte file") }
        let headerLength = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else {
            throw fail("byte offset 0: header length \(headerLength) exceeds the file size \(data.count) (truncated, or not a safetensors file)")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(headerLength)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw fail("byte offset 8: the header is not a JSON object (not a safetensors file?)")
        }
        let dataStart = 8 + Int(headerLength)
        let available = data.count - dataStart
        var tensors: [(Int, Tensor)] = []
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor '\(name)': malformed header entry")
            }
            guard dtype == "F32" else { throw fail("tensor '\(name)': expected dtype F32, found \(dtype)") }
            // Sizes come from the file: check them without any arithmetic that could overflow.
            guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1.0, { $0 * Double($1) }) <= 0x1p50 else {
                throw fail("tensor '\(name)': impossible shape \(shape)")
            }
            let count = shape.reduce(1, *)
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == count * 4 else {
                throw fail("tensor '\(name)': data_offsets \(offsets) do not hold \(count) F32 values of shape \(shape)")
            }
            guard offsets[1] <= available else {
                throw fail("tensor '\(name)': data ends at byte offset \(dataStart + offsets[1]) but the file has \(data.count) bytes (truncated)")
            }
            var values = [Float](repeating: 0, count: count)
            _ = values.withUnsafeMutableBytes { dst in
                data.copyBytes(to: dst, from: (dataStart + offsets[0])..<(dataStart + offsets[1]))
            }
            tensors.append((offsets[0], Tensor(name: name, shape: shape, values: values)))
        }
        return (tensors.sorted { $0.0 < $1.0 }.map(\.1), metadata)
    }
}
