import Foundation

/// A rectangle of an image, in pixels.
public struct CropBox: Equatable, Sendable {
    public var top: Int, left: Int, height: Int, width: Int

    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top; self.left = left; self.height = height; self.width = width
    }
}

/// torchvision `RandomResizedCrop.get_params`: up to 10 attempts at a box of
/// area `uniform(scale) * height * width` and aspect ratio (width / height)
/// `exp(uniform(log ratio))`, sides rounded half to even (Python's round);
/// the first that fits is placed uniformly. If none fits: the whole image,
/// cut to the nearest allowed ratio, centred. `uniform()` gives values in [0, 1).
public func randomResizedCropBox(height: Int, width: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>,
                          uniform: () -> Double) -> CropBox {
    let area = Double(height * width)
    let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
    for _ in 0..<10 {
        let targetArea = area * (scale.lowerBound + uniform() * (scale.upperBound - scale.lowerBound))
        let aspect = exp(logRatio.lowerBound + uniform() * (logRatio.upperBound - logRatio.lowerBound))
        let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
        let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
        if 0 < w && w <= width && 0 < h && h <= height {
            let top = Int(uniform() * Double(height - h + 1)), left = Int(uniform() * Double(width - w + 1))
            return CropBox(top: top, left: left, height: h, width: w)
        }
    }
    let inRatio = Double(width) / Double(height)
    var h = height, w = width
    if inRatio < ratio.lowerBound {
        h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
    } else if inRatio > ratio.upperBound {
        w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
    }
    return CropBox(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
}

/// torchvision `CenterCrop`'s offset of a `crop`-long cut of a `length`-long
/// side: half the difference rounded half to even; a cut larger than the
/// image starts at minus half the excess (rounded down), zero-filled.
func centreOffset(length: Int, crop: Int) -> Int {
    crop <= length ? Int((Double(length - crop) / 2).rounded(.toNearestOrEven)) : -((crop - length) / 2)
}
