#if canImport(Glibc)
import Glibc
#endif
import Testing
import PTrain

// Large buffers must come untouched, so that the first thread to write a page
// (a worker, pinned to its core) decides its NUMA node; and they must read as
// zero all the same.

@Suite struct FloatBufferTests {
    /// Pages of `buffer` that are resident (touched), by mincore(2).
    private func residentPages(_ buffer: FloatBuffer) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = buffer.count * 4
        var vector = [UInt8](repeating: 0, count: (bytes + page - 1) / page)
        #expect(mincore(UnsafeMutableRawPointer(buffer.pointer), bytes, &vector) == 0)
        return vector.filter { $0 & 1 != 0 }.count
    }

    @Test func largeBufferIsZeroButUntouchedUntilWritten() {
        let buffer = FloatBuffer(count: 1 << 20)  // 4 MiB
        #expect(residentPages(buffer) == 0)
        buffer.pointer[0] = 1
        #expect(residentPages(buffer) >= 1)
        #expect(buffer.array.dropFirst().allSatisfy { $0 == 0 } && buffer.pointer[0] == 1)
    }

    @Test(arguments: [0, 1, 17, FloatBuffer.untouchedBytes / 4 - 1, FloatBuffer.untouchedBytes / 4, 100_003])
    func everySizeIsZeroFilledAndAligned(count: Int) throws {
        let buffer = try FloatBuffer(count: count, purpose: "a test")
        #expect(buffer.count == count && buffer.array.allSatisfy { $0 == 0 })
        #expect(Int(bitPattern: buffer.pointer) % 64 == 0)
    }

    @Test func refusalNamesBytesAndPurpose() {
        #expect(throws: AllocationError(bytes: Int.max, purpose: "the weights")) {
            try FloatBuffer(count: Int.max / 2, purpose: "the weights")
        }
    }
}
