/// Per-thread working memory of a TransformChain: grow-only buffers, so that
/// after the first images of the largest size `apply` allocates nothing.
/// Not shared between threads (each worker owns one).
public final class TransformScratch {
    /// Two float CHW images (ping-pong between steps), the row-resized
    /// intermediate of a resize, and its filter taps.
    let images = [GrowableBuffer<Float>(), GrowableBuffer<Float>()]
    var resizeRows = GrowableBuffer<Float>()
    var columnTaps = ResizeTaps(), rowTaps = ResizeTaps()

    public init() {}
}

/// An uninitialised buffer of trivial values that only ever grows.
final class GrowableBuffer<T> {
    private(set) var pointer = UnsafeMutablePointer<T>.allocate(capacity: 0)
    private(set) var capacity = 0

    /// The buffer with room for at least `count` values (contents not kept when it grows).
    func reserve(_ count: Int) -> UnsafeMutablePointer<T> {
        if count > capacity {
            pointer.deallocate()
            pointer = .allocate(capacity: count)
            capacity = count
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}
