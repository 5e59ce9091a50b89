#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// strerror text for the current errno, e.g. "Invalid argument".
func systemReason(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
