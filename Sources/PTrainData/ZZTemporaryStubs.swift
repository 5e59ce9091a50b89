// TEMPORARY: stand-ins for the decoder and transform chain being built on other branches. Removed at merge.
import PTrain
public struct PixelView {
    public enum Layout: Sendable { case interleaved, planar }
    public let width: Int, height: Int, channels: Int, layout: Layout, pixels: UnsafePointer<UInt8>, maxValue: Float
}
public final class TransformScratch { public init() {} }
public struct TransformChain: Sendable {
    public init(_ operations: [TransformOperation], mean: [Float], std: [Float], lighting: PCALighting?) {}
    public func outputSize(input: (height: Int, width: Int)) -> (height: Int, width: Int) { input }
    public var decodeShorterSide: Int? { nil }
    public func apply(_ image: PixelView, into output: UnsafeMutablePointer<Float>, scratch: TransformScratch, seed: UInt64, epoch: Int, index: Int, view: Int = 0) {}
}
public enum TransformOperation: Sendable { case flip; case centerCrop(height: Int, width: Int); public var needsFittedLighting: Bool { false } }
extension DataConfig { public var transforms: [TransformOperation]? { nil }; public var evalTransforms: [TransformOperation]? { nil } }
