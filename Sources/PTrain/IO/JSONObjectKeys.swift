import Foundation

/// The keys of a JSON object as they appear in the text, duplicates included.
///
/// `JSONSerialization` and `JSONDecoder` keep one value for a key written
/// twice, so a file that names something twice would load silently; formats
/// whose keys are names (the safetensors header) scan the text with this to
/// refuse duplicates.
enum JSONObjectKeys {
    /// Each top-level key of the object in `bytes` with the offset of its
    /// opening quote, in text order. `bytes` must already have parsed as a JSON
    /// object (only its structure is followed here); nil if it is not one.
    static func scan(_ bytes: [UInt8]) -> [(key: String, offset: Int)]? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var keys: [(key: String, offset: Int)] = []
        var depth = 0
        var expectingKey = false
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            switch byte {
            case quote:
                // The string runs to the next quote not escaped by a backslash.
                let start = i
                i += 1
                while i < bytes.count, bytes[i] != quote { i += bytes[i] == backslash ? 2 : 1 }
                guard i < bytes.count else { return nil }
                if depth == 1 && expectingKey {
                    // The literal, escapes and all, decoded by the JSON parser itself.
                    guard let key = (try? JSONSerialization.jsonObject(with: Data(bytes[start...i]), options: .fragmentsAllowed)) as? String
                    else { return nil }
                    keys.append((key, start))
                    expectingKey = false
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1 && byte == UInt8(ascii: "{")
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                expectingKey = depth == 1
            default:
                break
            }
            i += 1
        }
        return keys
    }
}
