import PTrainKernels

/// A layer whose inference forward pass reads its weights in a form prepared
/// from them once per evaluation (`InferenceWeights`), where the form they
/// are trained in would make every batch pay a reordering or a slower kernel.
///
/// The prepared form is a pure function of the bound weights, so it is valid
/// until the weights change: whoever runs inference calls
/// `Network.prepareInference()` first, and a training step makes it stale.
/// Training forward passes never read it.
public protocol InferencePreparing: Layer {
    /// Floats of the prepared form (0: none for this layer's shape).
    var preparedFloats: Int { get }
    /// Floats of scratch `prepareInference` needs (0: none).
    var preparationScratchFloats: Int { get }
    /// Writes the prepared form of the bound weights into `buffer`
    /// (`preparedFloats` floats), with `scratch` (`preparationScratchFloats`)
    /// and `gemm` (present when some layer of the store needs scratch) for
    /// its own use.
    func prepareInference(into buffer: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, gemm: GEMMWorkspace?)
    /// Where the inference forward reads the prepared form from now on; nil:
    /// it computes from the weights as in training.
    func usePrepared(_ prepared: UnsafePointer<Float>?)
}
