/// Copies one image's `channels` planes of `height x width` floats into
/// zero-bordered planes `planeStride` floats apart whose rows are `pitch`
/// floats apart: pixel (iy, ix) of channel c goes to `c * planeStride +
/// (iy + padH) * pitch + ix + padW`. Only the interiors are written: the
/// borders (and any slack right of them) keep the zeros a pass writes once
/// at its start (`FilterVectorAlgorithm`).
func copyIntoPaddedPlanes(_ image: UnsafePointer<Float>, channels: Int, height: Int, width: Int, padH: Int, padW: Int,
                          pitch: Int, planeStride: Int, into planes: UnsafeMutablePointer<Float>) {
    for c in 0..<channels {
        for iy in 0..<height {
            (planes + c * planeStride + (iy + padH) * pitch + padW).update(from: image + (c * height + iy) * width, count: width)
        }
    }
}
