// Per-sample tensor shape. The batch dimension N is never part of a shape:
// a batch of activations is `[N, channels, height, width]`, row-major (NCHW).
// Dense features are `[features, 1, 1]`.

public struct TensorShape: Hashable, Sendable, CustomStringConvertible {
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(_ channels: Int, _ height: Int = 1, _ width: Int = 1) {
        self.channels = channels; self.height = height; self.width = width
    }

    /// Elements per sample.
    public var count: Int { channels * height * width }
    /// Elements per channel plane.
    public var spatial: Int { height * width }
    public var isFlat: Bool { height == 1 && width == 1 }

    /// `6x28x28`, or `120` for a flat shape.
    public var description: String { isFlat ? "\(channels)" : "\(channels)x\(height)x\(width)" }
    public var dimensions: [Int] { isFlat ? [channels] : [channels, height, width] }
}
