import Testing
import PTrain
import PTrainKernels

// `Conv2D.algorithmNames`, the per-layer table's algorithms column of
// `ptrain bench`: what ConvolutionChoice picks for each pass, by name.

@Test("a convolution names its algorithms: one name when every pass agrees, else forward / input gradient / weight gradient")
func convolutionAlgorithmNames() {
    // ResNet's 3x3 on 16 channels: Winograd for all three passes.
    #expect(Conv2D(name: "c", input: TensorShape(16, 32, 32), filters: 16, kernel: (3, 3), padding: (1, 1)).algorithmNames()
            == "winograd")
    // LeNet's conv2 (6 -> 16, 5x5 valid): filter vectors but for the input gradient.
    #expect(Conv2D(name: "c", input: TensorShape(6, 14, 14), filters: 16, kernel: (5, 5)).algorithmNames()
            == "filter vectors / image lanes / filter vectors")
    // LeNet's conv1 (1 -> 6, 5x5 pad 2): taps, and image lanes for both
    // gradients.
    let first = Conv2D(name: "c", input: TensorShape(1, 28, 28), filters: 6, kernel: (5, 5), padding: (2, 2))
    #expect(first.algorithmNames() == "taps / image lanes / image lanes")
    // As the network's first layer it computes no input gradient.
    #expect(first.algorithmNames(inputGradient: false) == "taps / none / image lanes")
    // bf16: the bf16 taps where no Winograd applies (8 channels).
    let bf16 = Conv2D(name: "c", input: TensorShape(8, 8, 8), filters: 16, kernel: (3, 3), padding: (1, 1))
    bf16.precision = .bf16
    #expect(bf16.algorithmNames() == "bf16 taps / bf16 taps / im2col")
}
