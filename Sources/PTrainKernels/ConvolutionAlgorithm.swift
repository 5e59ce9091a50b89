// One way of computing a convolution layer's passes (Conv2D's operators).
//
// Every algorithm computes the same three things from the same tensors; they
// differ in how they lower them to GEMMs, in which shapes they handle
// (`supports`) and in the scratch they need (`workspaceFloats`).
// `ConvolutionChoice.choose` picks one per layer and pass.

/// The three passes of a convolution's training step.
public enum ConvolutionPass: Sendable, Hashable, CaseIterable {
    /// `y = conv(x, W)`.
    case forward
    /// `dx += conv^T(dy, W)`.
    case inputGradient
    /// `dW += dy (x) x`, summed over the batch.
    case weightGradient
}

/// Scratch of one pass: `floats` (`workspaceFloats` of them, 64-byte
/// aligned) and the GEMM packing buffers of the calling thread. `floats` is
/// shared with the other layers of a replica (one layer runs at a time), so
/// its contents are undefined when a pass starts: a pass zeroes what it
/// needs zero (padded planes' borders) and reads nothing an earlier pass
/// left (the forward pass leaves nothing for the backward ones).
public struct ConvolutionWorkspace {
    public let floats: UnsafeMutablePointer<Float>
    public let gemm: GEMMWorkspace
    /// A forward pass's weights already in the algorithm's own form (an
    /// inference network's, prepared once per evaluation:
    /// `WinogradAlgorithm.prepareWeights`); nil: from the OIHW weights.
    /// Only the algorithms that prepare weights read it.
    public let preparedWeights: UnsafePointer<Float>?
    public init(floats: UnsafeMutablePointer<Float>, gemm: GEMMWorkspace, preparedWeights: UnsafePointer<Float>? = nil) {
        self.floats = floats; self.gemm = gemm; self.preparedWeights = preparedWeights
    }
}

/// A convolution algorithm, planned for one shape and a largest batch.
///
/// Tensors: `x` and `dx` are `[batch]` images of `[groups * C/g, H, W]`,
/// image n at `+ n * inputStride`; `y` and `dy` are `[batch]` images of
/// `[groups * outputs, OH, OW]` at `+ n * outputStride` (a stride larger than
/// the image when the output is a channel slice of a concatenation). Units
/// are floats. No call allocates. A pass that `supports` rejects must not be
/// called.
public protocol ConvolutionAlgorithm: Sendable {
    /// A short name for reports (`ptrain bench`'s per-layer table).
    static var name: String { get }
    /// Whether this algorithm computes `pass` of `shape`.
    static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool
    /// Plans for batches of at most `maxBatch` images (strips and blocks
    /// depend only on the shape and maxBatch, so results do not depend on the
    /// worker count).
    init(_ shape: ConvolutionShape, maxBatch: Int)
    /// Floats of `ConvolutionWorkspace.floats` every pass needs.
    var workspaceFloats: Int { get }
    /// `y = conv(x, weights)` (overwritten; no bias).
    func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                 into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, workspace: ConvolutionWorkspace)
    /// `dx += the gradient of conv(x, weights) with respect to x, given dy`.
    func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights: UnsafePointer<Float>,
                       into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int, workspace: ConvolutionWorkspace)
    /// `dW += the gradient with respect to the weights, given x and dy`
    /// (`dW` OIHW like the weights).
    func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                        into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace)
}

/// An algorithm that computes gradients only (`supports` says so, so
/// `ConvolutionChoice` never gives it the forward pass, which refuses to
/// run): ImageLaneAlgorithm.
public protocol GradientsOnly: ConvolutionAlgorithm {}

extension GradientsOnly {
    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, workspace: ConvolutionWorkspace) {
        preconditionFailure("\(Self.name) computes gradients only")
    }
}

/// An algorithm that computes weight gradients only: the input gradient
/// refuses to run too.
public protocol WeightGradientOnly: GradientsOnly {}

extension WeightGradientOnly {
    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int,
                              workspace: ConvolutionWorkspace) {
        preconditionFailure("\(Self.name) computes weight gradients only")
    }
}

/// Floats rounded up to whole 64-byte lines, so that the regions carved one
/// after another out of an aligned workspace stay aligned.
func alignedFloats(_ count: Int) -> Int { (count + 15) / 16 * 16 }
