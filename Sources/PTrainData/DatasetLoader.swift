import Foundation

/// Reads one split of a dataset from its directory (see `DatasetLocator`),
/// by the official file names, each raw or `.gz` (raw preferred):
/// - mnist, fashion-mnist: `train-images-idx3-ubyte` + `train-labels-idx1-ubyte`,
///   `t10k-images-idx3-ubyte` + `t10k-labels-idx1-ubyte` (`IDXReader`)
/// - digits: `digits.csv`, split 1,437 train / 360 test (`DigitsCSVReader`)
/// - cifar-10: `data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin` (`CIFAR10Reader`)
public enum DatasetLoader {
    /// The images and labels of `split`, named `"<kind>/<split>"` (e.g. `"mnist/train"`).
    public static func load(_ kind: DatasetKind, split: DatasetSplit, directory: URL) throws -> ImageSet {
        let name = "\(kind.rawValue)/\(split.rawValue)"
        switch kind {
        case .mnist, .fashionMNIST:
            let prefix = split == .train ? "train" : "t10k"
            let images = try GzipFile.locate("\(prefix)-images-idx3-ubyte", in: directory)
            let labels = try GzipFile.locate("\(prefix)-labels-idx1-ubyte", in: directory)
            return try IDXReader.read(images: images, labels: labels, name: name, classes: kind.classes)
        case .digits:
            let file = try GzipFile.locate("digits.csv", in: directory)
            return try DigitsCSVReader.read(file, split: split, name: name)
        case .cifar10:
            let files = try CIFAR10Reader.batchFileNames(for: split).map { try GzipFile.locate($0, in: directory) }
            return try CIFAR10Reader.read(batches: files, name: name)
        }
    }
}
