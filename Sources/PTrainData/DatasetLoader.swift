import Foundation
import PTrain

/// Reads one split of a dataset from its directory (see `DatasetLocator`),
/// by the official file names, each raw or `.gz` (raw preferred):
/// - mnist, fashion-mnist: `train-images-idx3-ubyte` + `train-labels-idx1-ubyte`,
///   `t10k-images-idx3-ubyte` + `t10k-labels-idx1-ubyte` (`IDXReader`)
/// - digits: `digits.csv`, split 1,437 train / 360 test (`DigitsCSVReader`)
/// - cifar-10: `data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin` (`CIFARReader`)
/// - cifar-100: `train.bin`, `test.bin` (`CIFARReader`, fine or coarse labels)
public enum DatasetLoader {
    /// The images and labels of `split`, named `"<kind>/<split>"` (e.g. `"mnist/train"`).
    public static func load(_ kind: DatasetKind, split: DatasetSplit, directory: URL,
                            labels: DataConfig.LabelSet = .fine) throws -> ImageSet {
        let name = "\(kind.rawValue)/\(split.rawValue)"
        let files = try files(kind, split: split, directory: directory)
        switch kind {
        case .mnist, .fashionMNIST:
            return try IDXReader.read(images: files[0], labels: files[1], name: name, classes: kind.classes())
        case .digits:
            return try DigitsCSVReader.read(files[0], split: split, name: name)
        case .cifar10:
            return try CIFARReader.cifar10.read(batches: files, name: name)
        case .cifar100:
            return try CIFARReader.cifar100(labels).read(batches: files, name: name)
        }
    }

    /// The files `load` reads for `split`, in the order it reads them: images
    /// then labels for the IDX sets, the one CSV for digits, the batches for CIFAR-10.
    public static func files(_ kind: DatasetKind, split: DatasetSplit, directory: URL) throws -> [URL] {
        switch kind {
        case .mnist, .fashionMNIST:
            let prefix = split == .train ? "train" : "t10k"
            return try ["\(prefix)-images-idx3-ubyte", "\(prefix)-labels-idx1-ubyte"].map { try GzipFile.locate($0, in: directory) }
        case .digits:
            return [try GzipFile.locate("digits.csv", in: directory)]
        case .cifar10:
            return try CIFARReader.batchFileNames(for: split).map { try GzipFile.locate($0, in: directory) }
        case .cifar100:
            return [try GzipFile.locate("\(split.rawValue).bin", in: directory)]
        }
    }
}
