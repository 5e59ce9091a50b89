import CMallocCounter
import PTrain
import PTrainData
import Testing

// The training step allocates nothing after warm-up; the per-sample transform
// chain the data pipeline runs inside it must not either.

@Test("TransformChain.apply allocates nothing once its scratch has seen the largest image")
func transformChainDoesNotAllocate() {
    let ops: [TransformOperation] = [
        .resize(.side(40)), .randomResizedCrop(height: 24, width: 24, scale: 0.08...1, ratio: 0.75...(4.0 / 3)), .flip,
        .colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4),
        .lighting(alphaStd: 0.1, eigenvalues: [0.2, 0.02, 0.005], eigenvectors: [[-0.58, -0.81, 0.04], [-0.58, 0.37, -0.72], [-0.57, 0.45, 0.69]]),
        .randomCrop(height: 20, width: 20, padding: 2), .centerCrop(height: 18, width: 18)]
    let chain = TransformChain(ops, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], lighting: nil)
    let (h, w) = (50, 60)
    let pixels = (0..<h * w * 3).map { UInt8($0 % 251) }
    var output = [Float](repeating: 0, count: 3 * 18 * 18)
    let scratch = TransformScratch()
    pixels.withUnsafeBufferPointer { px in
        output.withUnsafeMutableBufferPointer { out in
            let image = PixelView(width: w, height: h, channels: 3, layout: .interleaved, pixels: px.baseAddress!)
            for index in 0..<20 { chain.apply(image, into: out.baseAddress!, scratch: scratch, seed: 1, epoch: 0, index: index) }  // warm-up
            allocationCounting.lock()
            defer { allocationCounting.unlock() }
            CMallocCounter_track(41)
            CMallocCounter_start(41)
            for index in 20..<120 {
                chain.apply(image, into: out.baseAddress!, scratch: scratch, seed: 1, epoch: 0, index: index)
                chain.apply(image, into: out.baseAddress!, scratch: scratch, seed: 1, epoch: 0, index: index, view: 7)
            }
            let allocations = CMallocCounter_stop()
            #expect(allocations == 0, "\(allocations) heap allocations in 200 samples")
        }
    }
}
