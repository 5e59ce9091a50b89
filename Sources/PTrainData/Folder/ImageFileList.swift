import Foundation
import PTrain

/// One split of a dataset kept as image files on disk: the paths and labels
/// only (about 100 bytes per image), never the pixels. Samples are decoded
/// when a batch needs them (`SampleSet.fill`), so memory does not grow with
/// the number of images.
///
/// Two layouts are read (`read(split:)`):
/// - a folder of class folders, as torchvision's `ImageFolder`
///   (`SPLIT/CLASS/IMAGE.jpg`): the classes are the sorted folder names,
///   labels their positions; images are the files ending in `.jpg`,
///   `.jpeg` or `.png` (any case), sorted by name; hidden entries are skipped;
/// - a list file `SPLIT.txt`, one `PATH LABEL` per line (the label a
///   non-negative integer, separated from the path by the line's last run
///   of spaces or tabs; `#` starts a comment line), paths relative to the
///   list file's folder: for data not laid out in class folders.
public struct ImageFileList: Sendable {
    /// For messages: `"photos/train"`.
    public let name: String
    /// Absolute paths, in label-then-name order (folders) or file order (lists).
    public let paths: [String]
    /// `[count]`, each `< classNames.count`.
    public let labels: [UInt16]
    /// Class `i`'s name: the folder name, or `"i"` for list files.
    public let classNames: [String]
    /// Read from a list file (classes are label numbers, and a split may
    /// hold fewer of them than another) rather than class folders.
    public let isListFile: Bool

    public var count: Int { paths.count }
    public var classes: Int { classNames.count }

    public init(name: String, paths: [String], labels: [UInt16], classNames: [String], isListFile: Bool = false) {
        precondition(paths.count == labels.count)
        self.name = name; self.paths = paths; self.labels = labels; self.classNames = classNames; self.isListFile = isListFile
    }

    /// File name endings read as images.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Reads split `split` of the dataset at `root`: the folder `root/split`
    /// or, when there is none, the list file `root/split.txt`. `name` prefixes
    /// messages and the split's name (`"NAME/split"`).
    public static func read(root: URL, split: String, name: String) throws -> ImageFileList {
        let folder = root.appendingPathComponent(split), list = root.appendingPathComponent(split + ".txt")
        if isDirectory(folder.path) { return try readFolder(folder, name: "\(name)/\(split)") }
        if FileManager.default.fileExists(atPath: list.path) { return try readList(list, name: "\(name)/\(split)") }
        throw DataError("\(root.path): no split '\(split)': expected a folder of class folders \(folder.path)/CLASS/*.jpg|png or a list file \(list.path)")
    }

    /// Whether split `split` exists at `root` (as a folder or a list file).
    public static func exists(root: URL, split: String) -> Bool {
        isDirectory(root.appendingPathComponent(split).path)
            || FileManager.default.fileExists(atPath: root.appendingPathComponent(split + ".txt").path)
    }

    static func readFolder(_ folder: URL, name: String) throws -> ImageFileList {
        let classNames = try entries(of: folder).filter { isDirectory(folder.appendingPathComponent($0).path) }
        guard !classNames.isEmpty else {
            throw DataError("\(folder.path): no class folders: expected \(folder.path)/CLASS/IMAGE.jpg|png")
        }
        guard classNames.count <= Int(UInt16.max) + 1 else {
            throw DataError("\(folder.path): \(classNames.count) class folders; at most \(Int(UInt16.max) + 1) are supported")
        }
        var paths: [String] = [], labels: [UInt16] = []
        for (label, className) in classNames.enumerated() {
            let classFolder = folder.appendingPathComponent(className)
            let images = try entries(of: classFolder).filter {
                imageExtensions.contains(($0 as NSString).pathExtension.lowercased())
            }
            guard !images.isEmpty else {
                throw DataError("\(classFolder.path): class folder '\(className)' holds no images (expected files ending in .jpg, .jpeg or .png)")
            }
            for image in images {
                paths.append(classFolder.appendingPathComponent(image).path)
                labels.append(UInt16(label))
            }
        }
        return ImageFileList(name: name, paths: paths, labels: labels, classNames: classNames)
    }

    static func readList(_ file: URL, name: String) throws -> ImageFileList {
        let data: Data
        do { data = try RegularFile.read(file.path) } catch let e as RegularFile.ReadError { throw DataError(e.description) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError("\(file.path): expected UTF-8 text (lines of PATH LABEL), found bytes that are not UTF-8")
        }
        let base = file.deletingLastPathComponent()
        var paths: [String] = [], labels: [UInt16] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let cut = line.lastIndex(where: { $0 == " " || $0 == "\t" }) else {
                throw DataError("\(file.path): line \(number + 1): expected PATH LABEL, found '\(line)'")
            }
            let path = line[..<cut].trimmingCharacters(in: .whitespaces), labelText = line[line.index(after: cut)...]
            guard let label = UInt16(labelText) else {
                throw DataError("\(file.path): line \(number + 1): expected a label 0...\(UInt16.max), found '\(labelText)'")
            }
            paths.append(path.hasPrefix("/") ? path : base.appendingPathComponent(path).path)
            labels.append(label)
        }
        guard let top = labels.max() else { throw DataError("\(file.path): no images listed (expected lines of PATH LABEL)") }
        return ImageFileList(name: name, paths: paths, labels: labels, classNames: (0...Int(top)).map(String.init), isListFile: true)
    }

    /// The visible entries of `folder`, sorted by name (byte order, as
    /// torchvision sorts: the same on every machine).
    private static func entries(of folder: URL) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } catch {
            throw DataError("\(folder.path): cannot list the folder: \((error as NSError).localizedDescription)")
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }
}
