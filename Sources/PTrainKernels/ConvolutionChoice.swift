/// The one place that knows which algorithm computes which pass of which
/// convolution. Within a pass, the first algorithm of its preference list
/// that supports the shape wins:
///
/// - depthwise (one input channel and one filter per group), every pass:
///   direct SIMD loops, any kernel, stride, padding and dilation;
/// - forward: Winograd (when allowed), pointwise, filter vectors (stride 1,
///   fewer than 16 channels, whole 16-filter blocks, C * KH * KW >= 100),
///   taps, im2col;
/// - input gradient: Winograd, pointwise, image lanes (stride 1, fewer than
///   16 channels, kernels of 5 or more, pad <= K - 1), taps (stride 1 with
///   pad <= K - 1, or strided: one stride-1 tap GEMM per input phase),
///   im2col/col2im;
/// - weight gradient: Winograd, pointwise, filter vectors (as forward, 3-
///   and 5-wide kernels), image lanes (stride 1, fewer than 16 filters,
///   3- and 5-wide kernels), taps (whole 16-channel panels), window planes
///   (stride 1), im2col.
///
/// Other dilated kernels (`WindowGeometry.isDilated`) go to im2col in every
/// pass: the remaining algorithms' planes and tiles assume adjacent taps.
///
/// Taps take the other stride-1 input gradients: the gradient's wider
/// padding multiplies zeros (its all-padding kernel rows are skipped), but
/// with 6-row micro-kernels LeNet's valid 5x5 conv2 (6 input channels)
/// measured W1 training 8.7% faster this way than by col2im (tools/ab-bench,
/// 4 rounds), before image lanes cut those zeros out.
///
/// bf16 (`runtime.precision`): the algorithms with a bf16 path run:
/// pointwise, the bf16 tap GEMMs (BF16TapAlgorithm: every pass of undilated
/// kernels but the input gradients of strided ones or of pad > K - 1 and the
/// weight gradients of fewer than 16 channels), and im2col for the rest
/// (pointwise and im2col compute through `gemm`). Depthwise stays fp32: it
/// has no GEMM. So does Winograd: its transforms amplify the operands'
/// rounding error (coefficients up to 5 in B^T, 8 in A^T; with the
/// transformed tiles rounded to bf16, F(4x4, 3x3) measured ~10x the error of
/// the bf16 direct sum), but in fp32 it does fewer multiplies than the bf16
/// taps gain by their 2x rate (4x fewer for 3x3, 6.25x for 5x5), so a bf16
/// run computes every layer Winograd takes in fp32, with fp32's accuracy
/// (docs/kernels.md, "bf16").
public enum ConvolutionChoice {
    /// The algorithms, in order of preference.
    static let preference: [any ConvolutionAlgorithm.Type] = [
        DepthwiseAlgorithm.self, WinogradAlgorithm.self, PointwiseAlgorithm.self, FilterVectorAlgorithm.self,
        ImageLaneAlgorithm.self, TapAlgorithm.self, WindowAlgorithm.self, Im2ColAlgorithm.self,
    ]
    /// The algorithms of the bf16 path, in order of preference (Winograd's
    /// in fp32).
    static let bf16Preference: [any ConvolutionAlgorithm.Type] = [
        DepthwiseAlgorithm.self, WinogradAlgorithm.self, PointwiseAlgorithm.self, BF16TapAlgorithm.self, Im2ColAlgorithm.self,
    ]

    /// The algorithm for `pass` of `shape` in `precision`; `winograd: false`
    /// (the config's `algorithm: direct`) rules Winograd tiles out.
    public static func choose(_ shape: ConvolutionShape, _ pass: ConvolutionPass,
                              winograd: Bool = true, precision: ComputePrecision = .fp32) -> any ConvolutionAlgorithm.Type {
        let candidates = precision == .bf16 ? bf16Preference : preference
        for algorithm in candidates where winograd || ObjectIdentifier(algorithm) != ObjectIdentifier(WinogradAlgorithm.self) {
            if algorithm.supports(shape, pass) { return algorithm }
        }
        preconditionFailure("im2col supports every convolution")
    }
}
