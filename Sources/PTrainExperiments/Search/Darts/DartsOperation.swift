/// DARTS's candidate operations (Liu et al. 2019, the `PRIMITIVES` of its
/// code) as ptrain layer lists, in flow-style YAML. In the search network
/// (`search: true`) every batch norm is `affine: false` and pooling is
/// followed by one, as in DARTS's `MixedOp`; in a derived network they learn
/// their scale and shift and pooling stands alone.
public enum DartsOperation: String, CaseIterable, Sendable {
    case none
    case maxPool3x3 = "max_pool_3x3"
    case avgPool3x3 = "avg_pool_3x3"
    case skipConnect = "skip_connect"
    case sepConv3x3 = "sep_conv_3x3"
    case sepConv5x5 = "sep_conv_5x5"
    case dilConv3x3 = "dil_conv_3x3"
    case dilConv5x5 = "dil_conv_5x5"

    /// The spellings, for error messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// The op's layers for `channels` channels (in = out) at `stride`, as a
    /// YAML flow sequence. `shape`: the input's `[C, H, W]`, which the
    /// stride-1 skip (an identity: a reshape to the same shape) needs.
    /// Parameters as block references (`$channels`) are allowed: the strings
    /// are spliced into YAML as they are.
    func layers(channels c: String, stride s: Int, shape: String, search: Bool) -> String {
        let bn = search ? "{type: batchnorm, affine: false}" : "{type: batchnorm}"
        func depthwise(_ k: Int, stride: Int, dilation: Int) -> String {
            let padding = dilation * (k - 1) / 2
            return "{type: conv2d, filters: \(c), kernel: \(k), stride: \(stride), padding: \(padding)"
                + (dilation > 1 ? ", dilation: \(dilation)" : "") + ", groups: \(c), bias: false}"
        }
        let pointwise = "{type: conv2d, filters: \(c), kernel: 1, bias: false}"
        switch self {
        case .none: return "[{type: zero, stride: \(s)}]"
        case .maxPool3x3: return "[{type: maxpool, kernel: 3, stride: \(s), padding: 1}" + (search ? ", \(bn)]" : "]")
        case .avgPool3x3: return "[{type: avgpool, kernel: 3, stride: \(s), padding: 1}" + (search ? ", \(bn)]" : "]")
        case .skipConnect:
            return s == 1 ? "[{type: reshape, shape: \(shape)}]"
                : "[{type: factorized_reduce, filters: \(c)\(search ? ", affine: false" : "")}]"
        case .sepConv3x3, .sepConv5x5:
            // Twice relu, depthwise, pointwise, batch norm; the stride on the first depthwise.
            let k = self == .sepConv3x3 ? 3 : 5
            return "[{type: relu}, \(depthwise(k, stride: s, dilation: 1)), \(pointwise), \(bn), "
                + "{type: relu}, \(depthwise(k, stride: 1, dilation: 1)), \(pointwise), \(bn)]"
        case .dilConv3x3, .dilConv5x5:
            let k = self == .dilConv3x3 ? 3 : 5
            return "[{type: relu}, \(depthwise(k, stride: s, dilation: 2)), \(pointwise), \(bn)]"
        }
    }
}
