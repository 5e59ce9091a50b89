// Scalar transcendental functions without Foundation (kernels import nothing).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Float {
    /// e^self (libm `expf`).
    @inline(__always) public func exp_() -> Float { expf(self) }
    /// Natural log (libm `logf`).
    @inline(__always) public func log_() -> Float { logf(self) }
    /// self^p (libm `powf`).
    @inline(__always) public func pow_(_ p: Float) -> Float { powf(self, p) }
}

extension Double {
    @inline(__always) public func exp_() -> Double { exp(self) }
    @inline(__always) public func log_() -> Double { log(self) }
}
