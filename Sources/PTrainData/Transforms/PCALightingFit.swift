extension PCALighting {
    /// Computes it from decoded RGB images (any layout), as `fit(_: ImageSet)`
    /// does from an in-memory set: the eigen-decomposition of the covariance
    /// of all their pixels scaled to [0, 1]. Nil when there are no pixels;
    /// every image must have 3 channels (else a programming error: check first).
    public static func fit<S: Sequence<PixelView>>(_ images: S) -> PCALighting? {
        var sums = PCAPixelSums()
        for image in images { sums.add(image) }
        return sums.lighting
    }
}

/// The running sums a PCA lighting fit needs: of each RGB pixel (scaled to
/// [0, 1]) and of the products of its channels, in image order, row by row
/// (the same order for either layout, so the same bits).
struct PCAPixelSums {
    private var sum = SIMD3<Double>.zero
    private var cross = [Double](repeating: 0, count: 9)
    private var count = 0

    mutating func add(_ image: PixelView) {
        precondition(image.channels == 3, "PCA lighting needs RGB images, found \(image.channels) channel(s)")
        let s = image.strides, scale = 1 / Double(image.maxValue)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let p = image.pixels + y * s.row + x * s.column
                let v = SIMD3<Double>(Double(p[0]), Double(p[s.channel]), Double(p[2 * s.channel])) * scale
                sum += v
                for a in 0..<3 { for b in 0..<3 { cross[a * 3 + b] += v[a] * v[b] } }
            }
        }
        count += image.height * image.width
    }

    /// Nil when no pixel was added.
    var lighting: PCALighting? {
        count > 0 ? PCALighting(pixelSum: sum, crossSum: cross, count: Double(count)) : nil
    }
}
