/// One convolution layer as its algorithms see it: `groups` groups, each
/// reading `geometry` (one group's input channels, `[C/g, H, W]`, kernel,
/// stride and padding) and writing `outputs` channels of `outH x outW`.
/// Tensors are NCHW batches; weights OIHW, `[groups * outputs, C/g, KH, KW]`
/// (group g's filters are rows `g * outputs ..< (g + 1) * outputs`).
public struct ConvolutionShape: Sendable, Hashable {
    /// Geometry of ONE group's input channels.
    public let geometry: WindowGeometry
    /// Output channels of one group (O/g).
    public let outputs: Int
    public let groups: Int

    public init(geometry: WindowGeometry, outputs: Int, groups: Int) {
        self.geometry = geometry; self.outputs = outputs; self.groups = groups
    }

    /// Floats of one input channel plane (H * W) and one output plane (OH * OW).
    var inputPlane: Int { geometry.height * geometry.width }
    var outputPlane: Int { geometry.columnCols }
    /// Floats of one group's weights: `outputs * C/g * KH * KW`.
    var groupWeights: Int { outputs * geometry.columnRows }
    /// Offset of group g's channels in an image of the input (dense NCHW).
    func inputGroupOffset(_ g: Int) -> Int { g * geometry.channels * inputPlane }
    /// Offset of group g's channels in an image of the output.
    func outputGroupOffset(_ g: Int) -> Int { g * outputs * outputPlane }
}
