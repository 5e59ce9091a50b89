import PTrain

extension PCALighting {
    /// AlexNet's lighting noise for one image: `eigenvectors * (alpha .*
    /// eigenvalues)` with alpha ~ N(0, alphaStd^2), three normal draws
    /// (as Augmentation draws them). Added to R, G, B in [0, 1] units.
    func shift(alphaStd: Float, _ rng: inout CounterRNG) -> SIMD4<Float> {
        let alpha = SIMD3<Float>(rng.normal(), rng.normal(), rng.normal()) * alphaStd * eigenvalues
        var shift = SIMD4<Float>.zero
        for c in 0..<3 { shift[c] = (eigenvectors[c] * alpha).sum() }
        return shift
    }
}
