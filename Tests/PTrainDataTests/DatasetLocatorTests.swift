import Foundation
import PTrainData
import Testing

@Suite("DatasetLocator: configured path, then $PTRAIN_DATA/<folder>, then Debian (Fashion-MNIST)")
struct DatasetLocatorTests {
    @Test func folderNamesFollowSharedData() {
        #expect(DatasetKind.allCases.map(\.folderName) == ["mnist", "fashion-mnist", "sklearn-digits", "cifar-10", "cifar-100"])
        #expect(DatasetKind.allCases.map(\.rawValue) == ["mnist", "fashion-mnist", "digits", "cifar-10", "cifar-100"])
        #expect(DatasetKind(rawValue: "fashion-mnist") == .fashionMNIST)
    }

    @Test func debianPathIsWhereDpkgPutsIt() {
        // `dpkg -L dataset-fashion-mnist` (0.0~git20200523.55506a9-1) lists
        // /usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
        #expect(DatasetLocator.debianFashionMNISTDirectory == "/usr/share/datasets/fashion-mnist")
    }

    @Test func configuredPathWinsAndMustExist() throws {
        try withTemporaryDirectory { dir in
            let configured = dir.appendingPathComponent("my-mnist")
            try FileManager.default.createDirectory(at: configured, withIntermediateDirectories: false)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("mnist"), withIntermediateDirectories: false)
            let found = try DatasetLocator.directory(for: .mnist, configuredPath: configured.path, environment: ["PTRAIN_DATA": dir.path])
            #expect(found.path == configured.path)

            // A configured path that does not exist is an error, even though $PTRAIN_DATA/mnist exists.
            let typo = dir.appendingPathComponent("my-mnits").path
            #expect(throws: DataError("mnist: configured data directory \(typo) does not exist\nTo get MNIST: run tools/get-mnist data/mnist (downloads and checks the four official .gz files), then set PTRAIN_DATA to the directory that holds mnist/ (or configure the dataset directory itself).")) {
                try DatasetLocator.directory(for: .mnist, configuredPath: typo, environment: ["PTRAIN_DATA": dir.path])
            }
            let file = try write([1], "file", in: dir)
            #expect(throws: DataError("cifar-10: configured data directory \(file.path) is a regular file, not a directory\n\(DatasetLocator.howToGet(.cifar10))")) {
                try DatasetLocator.directory(for: .cifar10, configuredPath: file.path, environment: [:])
            }
            let fifo = dir.appendingPathComponent("pipe")
            #expect(mkfifo(fifo.path, 0o644) == 0)
            #expect(throws: DataError("digits: configured data directory \(fifo.path) is a FIFO (named pipe), not a directory\n\(DatasetLocator.howToGet(.digits))")) {
                try DatasetLocator.directory(for: .digits, configuredPath: fifo.path, environment: [:])
            }
        }
    }

    @Test func relativeConfiguredPathIsResolvedAgainstTheWorkingDirectory() throws {
        let cwd = FileManager.default.currentDirectoryPath
        let found = try DatasetLocator.directory(for: .digits, configuredPath: ".", environment: [:])
        #expect(found.path == URL(fileURLWithPath: cwd).standardizedFileURL.path)
    }

    @Test func ptrainDataFolder() throws {
        try withTemporaryDirectory { dir in
            for kind in DatasetKind.allCases {
                try FileManager.default.createDirectory(at: dir.appendingPathComponent(kind.folderName), withIntermediateDirectories: false)
                let found = try DatasetLocator.directory(for: kind, configuredPath: nil, environment: ["PTRAIN_DATA": dir.path])
                #expect(found.path == dir.appendingPathComponent(kind.folderName).path)
            }
        }
    }

    @Test func nothingFoundListsEveryPlaceTried() throws {
        try withTemporaryDirectory { dir in
            #expect(throws: DataError("""
                digits: no data directory found (no path configured); tried:
                  1. $PTRAIN_DATA/sklearn-digits = \(dir.path)/sklearn-digits: does not exist
                To get the digits: copy sklearn/datasets/data/digits.csv.gz from a scikit-learn install (pip install scikit-learn) into a folder sklearn-digits/ and set PTRAIN_DATA to the directory that holds sklearn-digits/ (or configure the dataset directory itself).
                """)) {
                try DatasetLocator.directory(for: .digits, configuredPath: nil, environment: ["PTRAIN_DATA": dir.path])
            }
            #expect(throws: DataError("""
                cifar-10: no data directory found (no path configured); tried:
                  1. $PTRAIN_DATA/cifar-10: PTRAIN_DATA is not set
                \(DatasetLocator.howToGet(.cifar10))
                """)) {
                try DatasetLocator.directory(for: .cifar10, configuredPath: nil, environment: ["PTRAIN_DATA": ""])
            }
            let missingDebian = dir.appendingPathComponent("usr-share-datasets-fashion-mnist").path
            #expect(throws: DataError("""
                fashion-mnist: no data directory found (no path configured); tried:
                  1. $PTRAIN_DATA/fashion-mnist: PTRAIN_DATA is not set
                  2. \(missingDebian) (Debian package dataset-fashion-mnist): does not exist
                To get Fashion-MNIST: apt-get install dataset-fashion-mnist (installs /usr/share/datasets/fashion-mnist), or put the four official train-/t10k-*-ubyte(.gz) files from zalandoresearch/fashion-mnist in a folder fashion-mnist/ and set PTRAIN_DATA to the directory that holds fashion-mnist/ (or configure the dataset directory itself).
                """)) {
                try DatasetLocator.directory(for: .fashionMNIST, configuredPath: nil, environment: [:], systemDirectory: missingDebian)
            }
        }
    }

    @Test func fashionMNISTFallsBackToTheDebianPackage() throws {
        try withTemporaryDirectory { dir in
            let debian = dir.appendingPathComponent("debian")
            try FileManager.default.createDirectory(at: debian, withIntermediateDirectories: false)
            // $PTRAIN_DATA set but without fashion-mnist/: the Debian directory is next.
            let found = try DatasetLocator.directory(for: .fashionMNIST, configuredPath: nil,
                                                     environment: ["PTRAIN_DATA": dir.path], systemDirectory: debian.path)
            #expect(found.path == debian.path)
            // $PTRAIN_DATA/fashion-mnist comes first when it exists.
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("fashion-mnist"), withIntermediateDirectories: false)
            let first = try DatasetLocator.directory(for: .fashionMNIST, configuredPath: nil,
                                                     environment: ["PTRAIN_DATA": dir.path], systemDirectory: debian.path)
            #expect(first.lastPathComponent == "fashion-mnist" && first.path != debian.path)
        }
    }

    @Test func onlyFashionMNISTHasASystemFallback() throws {
        #expect(throws: DataError.self) {
            try DatasetLocator.directory(for: .mnist, configuredPath: nil, environment: [:])
        }
        let error = #expect(throws: DataError.self) {
            try DatasetLocator.directory(for: .mnist, configuredPath: nil, environment: [:])
        }
        #expect(error?.description.contains("Debian") == false)
    }
}
