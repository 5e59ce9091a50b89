/// `dst [cols, rows] = src [rows, cols]^T`, both row-major and dense: 16x16
/// register transposes over the whole blocks, element by element on the
/// ragged edges. Exact (a copy). Used to prepare a dense layer's inference
/// weights (`Dense.prepareInference`), so that the forward GEMM reads
/// `W^T [in, out]` in place instead of `W [out, in]` by inner products.
public func transposeMatrix(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
    let fullRows = rows / 16 * 16, fullCols = cols / 16 * 16
    for r in stride(from: 0, to: fullRows, by: 16) {
        for c in stride(from: 0, to: fullCols, by: 16) {
            transposeBlock16(src + r * cols + c, stride: cols, into: dst + c * rows + r, stride: rows)
        }
    }
    // Edges: the last cols % 16 columns of every row, then the last rows % 16 rows.
    for r in 0..<fullRows {
        for c in fullCols..<cols { dst[c * rows + r] = src[r * cols + c] }
    }
    for r in fullRows..<rows {
        for c in 0..<cols { dst[c * rows + r] = src[r * cols + c] }
    }
}
