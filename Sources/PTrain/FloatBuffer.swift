// Owned, 64-byte aligned Float storage (one cache line; the width of an AVX-512
// vector). Every large buffer of a model or step is one of these, allocated when
// the model is built and never during a training step.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory the system would not give: the bytes asked for and what they were for.
public struct AllocationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(bytes: Int, purpose: String) {
        description = "cannot allocate \(bytes) bytes for \(purpose) (out of memory, or over the memory limit)"
    }
}

public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Zero-filled storage for `count` floats (count may be 0). For the
    /// buffers an up-front `MemoryEstimate` has accounted for; traps if the
    /// memory is not there all the same.
    public init(count: Int) {
        do { pointer = try Self.zeroed(count, purpose: "a buffer") } catch { fatalError(error.description) }
        self.count = count
    }

    /// Zero-filled storage for `count` floats, or `AllocationError` naming
    /// `purpose` when the system refuses the memory.
    public init(count: Int, purpose: String) throws(AllocationError) {
        pointer = try Self.zeroed(count, purpose: purpose)
        self.count = count
    }

    /// The one allocation path: 64-byte aligned, zero-filled, at least one
    /// float. Buffers of `untouchedBytes` or more are fresh anonymous pages
    /// from mmap: zero by the kernel and not yet touched, so each page is
    /// placed on the NUMA node of the thread that first writes it (Linux's
    /// default first-touch policy). A worker's arenas are allocated by the
    /// coordinator but first written on the worker's own pinned thread,
    /// which is what puts them in its node's memory. Smaller buffers come
    /// from posix_memalign and are zeroed here. Either way a refusal is an
    /// error where Swift's allocator would trap.
    private static func zeroed(_ count: Int, purpose: String) throws(AllocationError) -> UnsafeMutablePointer<Float> {
        precondition(count >= 0)
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: 4)
        guard !overflow else { throw AllocationError(bytes: Int.max, purpose: purpose) }
        if bytes >= untouchedBytes {
            let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let raw, raw != MAP_FAILED else { throw AllocationError(bytes: bytes, purpose: purpose) }
            return raw.bindMemory(to: Float.self, capacity: max(count, 1))
        }
        var raw: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            throw AllocationError(bytes: bytes, purpose: purpose)
        }
        let pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        return pointer
    }

    /// From this size on (bytes) a buffer is mapped pages, left untouched:
    /// 64 KiB, 16 pages, where page placement starts to matter and one
    /// mapping per buffer costs nothing measurable.
    public static let untouchedBytes = 64 << 10

    /// Whether this buffer is mapped pages (see `zeroed`).
    private var mapped: Bool { max(count, 1) * 4 >= Self.untouchedBytes }

    deinit {
        if mapped { munmap(pointer, max(count, 1) * 4) } else { free(pointer) }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
    public func zero() { pointer.update(repeating: 0, count: count) }
    public func copy(from other: FloatBuffer) {
        precondition(other.count == count)
        pointer.update(from: other.pointer, count: count)
    }
    public var array: [Float] { Array(buffer) }
}

/// Owned Int32 storage (labels, argmax indices), same lifetime rules.
public final class Int32Buffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Int32>
    public init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { pointer.deallocate() }
}
