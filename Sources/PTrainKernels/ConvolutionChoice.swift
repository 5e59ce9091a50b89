/// The one place that knows which algorithm computes which pass of which
/// convolution. Within a pass, the first algorithm of its preference list
/// that supports the shape wins:
///
/// - depthwise (one input channel and one filter per group), every pass:
///   direct SIMD loops, any kernel, stride, padding and dilation;
/// - forward: Winograd (when allowed), pointwise, taps, im2col;
/// - input gradient: Winograd, pointwise, taps (stride 1, pad <= K - 1),
///   im2col/col2im;
/// - weight gradient: Winograd, pointwise, taps (whole 16-channel panels),
///   window planes (stride 1), im2col.
///
/// Other dilated kernels (`WindowGeometry.isDilated`) go to im2col in every
/// pass: the remaining algorithms' planes and tiles assume adjacent taps.
///
/// Taps take valid stride-1 input gradients too: the gradient's wider
/// padding multiplies zeros (its all-padding kernel rows are skipped), but
/// with 6-row micro-kernels LeNet's valid 5x5 conv2 (6 input channels)
/// measured W1 training 8.7% faster this way than by col2im (tools/ab-bench,
/// 4 rounds).
public enum ConvolutionChoice {
    /// The algorithms, in order of preference.
    static let preference: [any ConvolutionAlgorithm.Type] = [
        DepthwiseAlgorithm.self, WinogradAlgorithm.self, PointwiseAlgorithm.self, TapAlgorithm.self, WindowAlgorithm.self, Im2ColAlgorithm.self,
    ]

    /// The algorithm for `pass` of `shape`; `winograd: false` (the config's
    /// `algorithm: direct`) rules Winograd tiles out.
    public static func choose(_ shape: ConvolutionShape, _ pass: ConvolutionPass,
                              winograd: Bool = true) -> any ConvolutionAlgorithm.Type {
        for algorithm in preference where winograd || ObjectIdentifier(algorithm) != ObjectIdentifier(WinogradAlgorithm.self) {
            if algorithm.supports(shape, pass) { return algorithm }
        }
        preconditionFailure("im2col supports every convolution")
    }
}
