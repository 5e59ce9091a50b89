import CBF16

/// The number format of the GEMM operands (`runtime.precision`). Results,
/// accumulators, weights, gradients and optimizer state are fp32 in both.
public enum ComputePrecision: String, Sendable, CaseIterable {
    /// fp32 operands (every algorithm of `ConvolutionChoice`).
    case fp32
    /// bf16 operands rounded to nearest even, fp32 accumulation
    /// (BF16GEMM.swift): needs AVX512_BF16 (`BF16Support.available`).
    case bf16
}

/// Whether this CPU runs the bf16 path.
public enum BF16Support {
    /// AVX512_BF16 with AVX-512 F/BW/VL, enabled by the OS (CPUID, once).
    public static let available: Bool = ptrain_bf16_supported() != 0
}
