import Foundation
import PTrain

/// Per-sample training augmentation, applied while a sample is written into a
/// shard: random crop (with optional zero padding), horizontal flip, and
/// AlexNet's PCA colour lighting. Every random choice of a sample is drawn from
/// a generator keyed by (seed, epoch, sample index), so a sample looks the same
/// whichever worker loads it, and a resumed run sees the same batches.
public struct Augmentation: Sendable, Equatable {
    /// Random crop position (else centred), with this many zero pixels of padding per side.
    public var randomCrop: Bool
    public var padding: Int
    /// Mirror left-right with probability 1/2.
    public var flip: Bool
    /// AlexNet lighting: `rgb += eigenvectors * (alpha .* eigenvalues)`,
    /// alpha ~ N(0, alphastd^2) per sample, on pixels scaled to [0, 1].
    public var lightingStd: Float
    public var lighting: PCALighting?

    public init(randomCrop: Bool = false, padding: Int = 0, flip: Bool = false, lightingStd: Float = 0, lighting: PCALighting? = nil) {
        self.randomCrop = randomCrop; self.padding = padding; self.flip = flip
        self.lightingStd = lightingStd; self.lighting = lighting
    }

    /// The augmentation of one sample.
    public struct Draw {
        public var offsetY: Int, offsetX: Int, flip: Bool
        /// Added to each channel, in [0, 1] pixel units.
        public var channelShift: SIMD4<Float>
    }

    /// Draws sample `index`'s crop offset (in padded coordinates, relative to
    /// the image's top-left), flip and lighting for `epoch`.
    public func draw(seed: UInt64, epoch: Int, index: Int, image: (h: Int, w: Int), crop: (h: Int, w: Int)) -> Draw {
        var rng = CounterRNG(seed: seed, stream: .augmentation, UInt64(epoch), UInt64(index))
        var d = Draw(offsetY: (image.h - crop.h) / 2, offsetX: (image.w - crop.w) / 2, flip: false, channelShift: .zero)
        if randomCrop {
            d.offsetY = rng.below(image.h + 2 * padding - crop.h + 1) - padding
            d.offsetX = rng.below(image.w + 2 * padding - crop.w + 1) - padding
        }
        if flip { d.flip = rng.below(2) == 1 }
        if let lighting, lightingStd > 0 {
            let alpha = SIMD3<Float>(rng.normal(), rng.normal(), rng.normal()) * lightingStd * lighting.eigenvalues
            for c in 0..<3 {
                d.channelShift[c] = (lighting.eigenvectors[c] * alpha).sum()
            }
        }
        return d
    }
}

/// Eigen-decomposition of the RGB covariance of a training set (pixels scaled
/// to [0, 1]), for AlexNet's lighting augmentation. `eigenvectors[c]` is row c
/// of the matrix whose columns are the eigenvectors.
public struct PCALighting: Sendable, Equatable, Codable {
    public var eigenvalues: SIMD3<Float>
    public var eigenvectors: [SIMD3<Float>]

    /// Computes it from up to `maxImages` images of a 3-channel set.
    public static func fit(_ images: ImageSet, maxImages: Int = 10_000) -> PCALighting {
        precondition(images.channels == 3)
        // An in-memory source has no file to fail on.
        return try! fit(.memory(images), indices: 0..<min(images.count, maxImages), scratch: SampleScratch())
    }

    /// Computes it from images `indices` of a 3-channel source (files are
    /// decoded at the smallest DCT scale whose shorter side is at least
    /// `decodeShorterSide`: the colour statistics barely depend on size).
    /// A bad image file is an error, or with `skipBad` left out of the fit.
    public static func fit<C: Collection<Int>>(_ source: ImageSource, indices: C, decodeShorterSide: Int? = nil,
                                                 scratch: SampleScratch, skipBad: Bool = false) throws -> PCALighting {
        var sums = PCAPixelSums()
        for i in indices {
            do {
                try source.withPixels(i, decodeShorterSide: decodeShorterSide, scratch: scratch) { sums.add($0) }
            } catch let error as DataError where skipBad {
                _ = error  // counted when training meets the image
            }
        }
        guard let lighting = sums.lighting else {
            throw DataError("\(source.name): no readable image to fit the PCA lighting on")
        }
        return lighting
    }
}

extension PCALighting {
    /// From the sums over `count` RGB pixels (in [0, 1]) of each pixel and of
    /// the products of its channels (`crossSum[a * 3 + b]`): the covariance's
    /// eigen-decomposition.
    init(pixelSum sum: SIMD3<Double>, crossSum cross: [Double], count: Double) {
        let mean = sum / count
        var cov = (0..<9).map { cross[$0] / count - mean[$0 / 3] * mean[$0 % 3] }
        let (values, vectors) = jacobiEigen3(&cov)
        self.init(eigenvalues: SIMD3(Float(values[0]), Float(values[1]), Float(values[2])),
                  eigenvectors: (0..<3).map { r in SIMD3(Float(vectors[r * 3]), Float(vectors[r * 3 + 1]), Float(vectors[r * 3 + 2])) })
    }
}

/// Eigenvalues (descending) and eigenvectors (columns of a row-major 3x3) of a
/// symmetric 3x3 matrix, by cyclic Jacobi rotations.
func jacobiEigen3(_ a: inout [Double]) -> ([Double], [Double]) {
    var v: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
    for _ in 0..<50 {
        let off = a[1] * a[1] + a[2] * a[2] + a[5] * a[5]
        if off < 1e-30 { break }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] where abs(a[p * 3 + q]) > 1e-300 {
            let theta = (a[q * 3 + q] - a[p * 3 + p]) / (2 * a[p * 3 + q])
            let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
            let c = 1 / (t * t + 1).squareRoot(), s = t * c
            for k in 0..<3 {  // A = J^T A J
                let akp = a[k * 3 + p], akq = a[k * 3 + q]
                a[k * 3 + p] = c * akp - s * akq
                a[k * 3 + q] = s * akp + c * akq
            }
            for k in 0..<3 {
                let apk = a[p * 3 + k], aqk = a[q * 3 + k]
                a[p * 3 + k] = c * apk - s * aqk
                a[q * 3 + k] = s * apk + c * aqk
            }
            for k in 0..<3 {
                let vkp = v[k * 3 + p], vkq = v[k * 3 + q]
                v[k * 3 + p] = c * vkp - s * vkq
                v[k * 3 + q] = s * vkp + c * vkq
            }
        }
    }
    let order = [0, 1, 2].sorted { a[$0 * 3 + $0] > a[$1 * 3 + $1] }
    return (order.map { a[$0 * 3 + $0] }, (0..<9).map { v[($0 / 3) * 3 + order[$0 % 3]] })
}
