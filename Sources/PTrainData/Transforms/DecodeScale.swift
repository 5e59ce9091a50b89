import PTrain

extension TransformChain {
    /// How small a JPEG may be decoded (its shorter side, through
    /// libjpeg-turbo's DCT scaling) without changing what the chain can
    /// see: when the chain starts by resizing to a fixed size, decoding at
    /// the smallest scale that keeps both sides at least that size saves
    /// most of the decode and resize work; nil (full size) otherwise, e.g.
    /// when a random crop of a small region is enlarged first.
    public var decodeShorterSide: Int? {
        guard case .resize(let size)? = steps.first else { return nil }
        switch size {
        case .side(let s): return s
        // Both sides must stay at least the target's: the longer target side bounds the shorter image side.
        case .exact(let h, let w): return max(h, w)
        }
    }
}

extension TransformOperation {
    /// A lighting step whose eigen-decomposition is fitted from the training images.
    public var needsFittedLighting: Bool {
        if case .lighting(_, nil, _) = self { return true }
        if case .lighting(_, _, nil) = self { return true }
        return false
    }
}
