import Foundation
import PTrain

/// Finds the directory that holds a dataset's files.
///
/// Order: the path configured for the run, if any (it must exist: no fallback,
/// so a typo is never silently replaced by other data); else
/// `$PTRAIN_DATA/<folderName>` (the README's Data table: `mnist`,
/// `fashion-mnist`, `sklearn-digits`, `cifar-10`); else, for Fashion-MNIST only,
/// where Debian's package `dataset-fashion-mnist` installs it. When nothing is
/// found the error lists every place tried and says how to get the data.
public enum DatasetLocator {
    /// Install directory of Debian's `dataset-fashion-mnist` (checked with `dpkg -L`,
    /// version 0.0~git20200523.55506a9-1): the four official `*-ubyte.gz` files.
    public static let debianFashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// The directory for `kind`; `environment` is usually `ProcessInfo.processInfo.environment`.
    public static func directory(for kind: DatasetKind, configuredPath: String?,
                                 environment: [String: String]) throws -> URL {
        try directory(for: kind, configuredPath: configuredPath, environment: environment,
                      systemDirectory: kind == .fashionMNIST ? debianFashionMNISTDirectory : nil)
    }

    /// As above with the system-package directory given, so tests need not depend
    /// on what is installed on the machine.
    package static func directory(for kind: DatasetKind, configuredPath: String?,
                                  environment: [String: String], systemDirectory: String?) throws -> URL {
        if let configuredPath {
            let url = URL(fileURLWithPath: (configuredPath as NSString).expandingTildeInPath).standardizedFileURL
            if let problem = problem(with: url.path) {
                throw DataError("\(kind.rawValue): configured data directory \(url.path) \(problem)\n\(howToGet(kind))")
            }
            return url
        }
        var tried: [String] = []
        if let root = environment["PTRAIN_DATA"], !root.isEmpty {
            let url = URL(fileURLWithPath: (root as NSString).expandingTildeInPath)
                .appendingPathComponent(kind.folderName).standardizedFileURL
            if let problem = problem(with: url.path) {
                tried.append("$PTRAIN_DATA/\(kind.folderName) = \(url.path): \(problem)")
            } else {
                return url
            }
        } else {
            tried.append("$PTRAIN_DATA/\(kind.folderName): PTRAIN_DATA is not set")
        }
        if let systemDirectory {
            if let problem = problem(with: systemDirectory) {
                tried.append("\(systemDirectory) (Debian package dataset-fashion-mnist): \(problem)")
            } else {
                return URL(fileURLWithPath: systemDirectory)
            }
        }
        let list = tried.enumerated().map { "  \($0.offset + 1). \($0.element)" }.joined(separator: "\n")
        throw DataError("\(kind.rawValue): no data directory found (no path configured); tried:\n\(list)\n\(howToGet(kind))")
    }

    /// Why `path` is not a usable directory, or nil if it is one.
    private static func problem(with path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return errno == ENOENT ? "does not exist" : "cannot be read (\(String(cString: strerror(errno))))"
        }
        return info.st_mode & S_IFMT == S_IFDIR ? nil : "is \(RegularFile.kind(of: info.st_mode)), not a directory"
    }

    /// One paragraph on where the files come from and where to put them.
    package static func howToGet(_ kind: DatasetKind) -> String {
        let layout = "set PTRAIN_DATA to the directory that holds \(kind.folderName)/ (or configure the dataset directory itself)"
        switch kind {
        case .mnist:
            return "To get MNIST: run tools/get-mnist data/mnist (downloads and checks the four official .gz files), then \(layout)."
        case .fashionMNIST:
            return "To get Fashion-MNIST: apt-get install dataset-fashion-mnist (installs \(debianFashionMNISTDirectory)), or put the four official train-/t10k-*-ubyte(.gz) files from zalandoresearch/fashion-mnist in a folder fashion-mnist/ and \(layout)."
        case .digits:
            return "To get the digits: copy sklearn/datasets/data/digits.csv.gz from a scikit-learn install (pip install scikit-learn) into a folder sklearn-digits/ and \(layout)."
        case .cifar10:
            return "To get CIFAR-10: download the binary version (cifar-10-binary.tar.gz, from Alex Krizhevsky's CIFAR page), extract data_batch_1..5.bin and test_batch.bin (gzip them if you like) into a folder cifar-10/ and \(layout)."
        case .cifar100:
            return "To get CIFAR-100: download the binary version (cifar-100-binary.tar.gz, from Alex Krizhevsky's CIFAR page), extract train.bin and test.bin (gzip them if you like) into a folder cifar-100/ and \(layout)."
        }
    }
}
