import PTrain

/// The datasets ptrain can read. The raw value is the name used in configs and
/// messages; `folderName` is the directory under `$PTRAIN_DATA`.
public enum DatasetKind: String, CaseIterable, Sendable {
    /// MNIST handwritten digits: IDX files, 60k + 10k, 1×28×28, 10 classes.
    case mnist
    /// Fashion-MNIST (Zalando): same IDX layout and sizes as MNIST.
    case fashionMNIST = "fashion-mnist"
    /// scikit-learn digits: `digits.csv(.gz)`, 1,797 × 1×8×8, values 0...16.
    case digits
    /// CIFAR-10 binary version: 50k + 10k, 3×32×32, 10 classes.
    case cifar10 = "cifar-10"
    /// CIFAR-100 binary version: 50k + 10k, 3×32×32, 100 fine / 20 coarse classes.
    case cifar100 = "cifar-100"

    /// The directory name under `$PTRAIN_DATA` (the README's Data table).
    public var folderName: String {
        switch self {
        case .mnist: "mnist"
        case .fashionMNIST: "fashion-mnist"
        case .digits: "sklearn-digits"
        case .cifar10: "cifar-10"
        case .cifar100: "cifar-100"
        }
    }

    /// Images in the train and test splits (as `DatasetLoader` reads them).
    public var imageCounts: (train: Int, test: Int) {
        switch self {
        case .mnist, .fashionMNIST: (60_000, 10_000)
        case .digits: (1_437, 360)
        case .cifar10, .cifar100: (50_000, 10_000)
        }
    }

    /// Bytes per image in memory: one byte per pixel (channels x height x width).
    public var pixelsPerImage: Int {
        switch self {
        case .mnist, .fashionMNIST: 28 * 28
        case .digits: 8 * 8
        case .cifar10, .cifar100: 3 * 32 * 32
        }
    }

    /// Number of classes: ten, except CIFAR-100 (`labels`: 100 fine or 20 coarse).
    public func classes(_ labels: DataConfig.LabelSet = .fine) -> Int {
        self == .cifar100 ? (labels == .fine ? 100 : 20) : 10
    }

    /// The reader of a configured dataset; nil for `synthetic` and `folder`, which have none.
    public init?(_ dataset: DataConfig.Dataset) {
        switch dataset {
        case .mnist: self = .mnist
        case .fashionMNIST: self = .fashionMNIST
        case .digits: self = .digits
        case .cifar10: self = .cifar10
        case .cifar100: self = .cifar100
        case .synthetic, .folder: return nil
        }
    }
}
