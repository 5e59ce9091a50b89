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
    /// Tensors come back in data-offset order. As the format requires, every
    /// name appears once and the tensors' `data_offsets`, in order, tile the
    /// data section exactly: no overlap, no gap, no trailing bytes.
    public static func decode(_ data: Data, file: String) throws -> (tensors: [Tensor], metadata: [String: String]) {
        func fail(_ m: String) -> FormatError { FormatError(description: "\(file): \(m)") }
        guard data.count >= 8 else { throw fail("byte offset 0: expected an 8-byte safetensors header length, found a \(data.count)-byte file") }
        let headerLength = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else {
            throw fail("byte offset 0: header length \(headerLength) exceeds the file size \(data.count) (truncated, or not a safetensors file)")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(headerLength)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any],
              let keys = JSONObjectKeys.scan([UInt8](headerData)) else {
            throw fail("byte offset 8: the header is not a JSON object (not a safetensors file?)")
        }
        var firstOffset: [String: Int] = [:]
        for (key, offset) in keys {
            if let first = firstOffset[key] {
                throw fail("byte offset \(8 + offset): tensor '\(key)' is named twice in the header (first at byte offset \(8 + first))")
            }
            firstOffset[key] = offset
        }
        let dataStart = 8 + Int(headerLength)
        let available = data.count - dataStart
        var entries: [(name: String, shape: [Int], begin: Int, end: Int)] = []
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
            entries.append((name, shape, offsets[0], offsets[1]))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        try checkTiling(entries.map { ($0.name, $0.begin, $0.end) }, dataStart: dataStart, fileSize: data.count, fail: fail)
        let tensors = entries.map { e in
            var values = [Float](repeating: 0, count: (e.end - e.begin) / 4)
            _ = values.withUnsafeMutableBytes { dst in data.copyBytes(to: dst, from: (dataStart + e.begin)..<(dataStart + e.end)) }
            return Tensor(name: e.name, shape: e.shape, values: values)
        }
        return (tensors, metadata)
    }

    /// Refuses `spans` (name, begin, end in the data section; sorted by begin)
    /// unless they cover the data section (`dataStart..<fileSize` of the file)
    /// exactly. Errors give file byte offsets.
    private static func checkTiling(_ spans: [(name: String, begin: Int, end: Int)], dataStart: Int, fileSize: Int,
                                    fail: (String) -> FormatError) throws {
        var covered = 0  // the data section is covered up to here
        var previous: (name: String, begin: Int, end: Int)? = nil
        for span in spans {
            if span.begin < covered, let p = previous {
                throw fail("tensors '\(p.name)' (bytes \(dataStart + p.begin)..<\(dataStart + p.end)) and '\(span.name)' (bytes \(dataStart + span.begin)..<\(dataStart + span.end)) overlap")
            }
            if span.begin > covered {
                let after = previous.map { "after tensor '\($0.name)'" } ?? "at the start of the data"
                throw fail("bytes \(dataStart + covered)..<\(dataStart + span.begin) belong to no tensor (a gap \(after), before tensor '\(span.name)')")
            }
            covered = span.end
            previous = span
        }
        if dataStart + covered != fileSize {
            let after = previous.map { "after tensor '\($0.name)'" } ?? "and no tensor"
            throw fail("bytes \(dataStart + covered)..<\(fileSize) belong to no tensor (\(fileSize - dataStart - covered) trailing bytes \(after))")
        }
    }
}
