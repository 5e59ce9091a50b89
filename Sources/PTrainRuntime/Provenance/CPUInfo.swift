import Foundation

/// The CPU model and its vector-relevant ISA flags, from /proc/cpuinfo: what
/// decides which kernels are fast, recorded with every run.
public struct CPUInfo: Codable, Sendable, Equatable {
    /// "model name" of the first processor; "unknown" when absent.
    public let model: String
    /// The SIMD flags of the first processor, in /proc/cpuinfo order.
    public let vectorFlags: [String]

    /// Flags kept: SSE4.2 and up, FMA, F16C, every AVX-512 and AMX extension.
    static func isVectorFlag(_ flag: Substring) -> Bool {
        ["sse4_2", "avx", "avx2", "fma", "f16c"].contains(flag) || flag.hasPrefix("avx512") || flag.hasPrefix("amx")
    }

    /// Parses the text of /proc/cpuinfo (the first processor's block decides).
    public init(cpuinfo text: String) {
        func value(_ key: String) -> Substring? {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == key {
                    return Substring(parts[1].trimmingCharacters(in: .whitespaces))
                }
            }
            return nil
        }
        model = value("model name").map(String.init) ?? "unknown"
        vectorFlags = (value("flags") ?? "").split(separator: " ").filter(Self.isVectorFlag).map(String.init)
    }

    /// This machine's; model "unknown" and no flags where /proc/cpuinfo does not exist.
    public static func current() -> CPUInfo {
        CPUInfo(cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
    }
}
