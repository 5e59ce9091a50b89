/// A grow-only byte buffer: `reserve` reallocates only when asked for more
/// than it holds, so a decoder reused over many images stops allocating once
/// it has seen the largest one.
///
/// A class so that its deinit frees the memory; owned by one decoder (not
/// shared between threads).
final class ReusableBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    /// Bytes at `base`.
    private(set) var capacity: Int

    init() {
        capacity = 0
        base = .allocate(capacity: 1)
    }

    deinit { base.deallocate() }

    /// Makes room for at least `bytes`; the contents are lost when it grows.
    func reserve(_ bytes: Int) {
        guard bytes > capacity else { return }
        grow(keeping: 0, to: bytes)
    }

    /// Makes room for at least `bytes`, keeping the first `count` bytes. Grows
    /// by at least half again, so slowly growing requests reallocate rarely.
    func grow(keeping count: Int, to bytes: Int) {
        guard bytes > capacity else { return }
        let newCapacity = max(bytes, capacity + capacity / 2)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }
}
