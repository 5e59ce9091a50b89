import PTrain
import PTrainKernels

/// Refuses `runtime.precision: bf16` on a CPU without AVX512_BF16, before
/// any network is built: the bf16 kernels would die of SIGILL there.
public enum PrecisionCheck {
    /// Throws when `precision` needs AVX512_BF16 and `bf16Available` says
    /// this CPU lacks it; `cpuModel` names the CPU in the message. The
    /// defaults are this machine's (tests pass other values).
    public static func check(_ precision: ComputePrecision, bf16Available: Bool = BF16Support.available,
                             cpuModel: @autoclosure () -> String = CPUInfo.current().model) throws {
        guard precision == .bf16, !bf16Available else { return }
        throw ConfigError("runtime.precision: bf16 needs AVX512_BF16 (vdpbf16ps); this CPU (\(cpuModel())) lacks it; use fp32")
    }
}
