import Foundation
import Testing

// Keeps the documentation references true: every `*.md` document named in the
// code, tests, tools, configs, README, docs/ or Package.swift must exist in
// the repository. A clone holds nothing else, so a reference to a document
// kept elsewhere (the project's early notes lived outside the repository) is
// a dead end for its reader.

/// The package root, found from this file: Tests/PTrainTests/ -> root.
private let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// What the check scans, relative to the package root.
private let scannedPaths = ["Sources", "Tests", "tools", "configs", "docs", "README.md", "Package.swift"]

/// A `*.md` name found in a text file: its 1-based line and the name as written.
struct DocumentReference: Equatable {
    let line: Int
    let name: String
}

/// The `*.md` names in `text`: a run of path characters ending in `.md` not
/// followed by a letter or digit (`docs/kernels.md#gemm` names
/// `docs/kernels.md`). Web addresses (`https://.../README.md`) are not
/// repository documents and are skipped.
func documentReferences(in text: String) -> [DocumentReference] {
    func isPathCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || "_-./:".contains(c))
    }
    var found: [DocumentReference] = []
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let chars = Array(line)
        var i = 0
        while i + 3 <= chars.count {
            defer { i += 1 }
            guard chars[i] == ".", chars[i + 1] == "m", chars[i + 2] == "d" else { continue }
            if i + 3 < chars.count, chars[i + 3].isLetter || chars[i + 3].isNumber { continue }
            var start = i
            while start > 0, isPathCharacter(chars[start - 1]) { start -= 1 }
            // A leading ':' belongs to the text (`file.md:12`, `see:x.md`), not the name.
            while start < i, chars[start] == ":" { start += 1 }
            let name = String(chars[start..<(i + 3)])
            guard start < i, !name.contains("://") else { continue }
            found.append(DocumentReference(line: index + 1, name: name))
        }
    }
    return found
}

/// Documents that live outside the repository and must never be cited,
/// whatever path they are written with. (Spelled in two parts so that this
/// file does not itself cite them to a plain grep.)
let outsideDocuments: Set<String> = Set(["DESIGN", "PLATFORM", "STYLE", "WORKLOADS"].map { $0 + ".md" })

/// Problems with the document references of the files under `paths` (files
/// or directories, relative to `root`), one line each:
/// `PATH:LINE: ...`, naming the reference and what is wrong with it. A
/// reference resolves relative to the repository root or to its file's
/// directory, and must stay inside the repository. `skipping` is not scanned.
func documentReferenceProblems(root: URL, paths: [String], skipping: URL? = nil) -> [String] {
    let fm = FileManager.default
    let rootPath = root.standardizedFileURL.path
    var files: [URL] = []
    for path in paths {
        let url = root.appendingPathComponent(path)
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else { continue }
        guard isDirectory.boolValue else { files.append(url); continue }
        let walk = fm.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        while let file = walk?.nextObject() as? URL {
            if (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { files.append(file) }
        }
    }
    func insideRepository(_ url: URL) -> Bool {
        let path = url.standardizedFileURL.path
        return path == rootPath || path.hasPrefix(rootPath + "/")
    }
    var problems: [String] = []
    for file in files.sorted(by: { $0.path < $1.path }) {
        if let skipping, file.standardizedFileURL.path == skipping.standardizedFileURL.path { continue }
        guard let data = fm.contents(atPath: file.path), let text = String(data: data, encoding: .utf8) else { continue }
        let shown = String(file.standardizedFileURL.path.dropFirst(rootPath.count + 1))
        for reference in documentReferences(in: text) {
            let location = "\(shown):\(reference.line)"
            let base = String(reference.name.split(separator: "/").last ?? "")
            if outsideDocuments.contains(base) {
                problems.append("\(location): refers to \(reference.name), a document outside the repository; refer to the docs/ files instead")
                continue
            }
            let name = reference.name.hasPrefix("./") ? String(reference.name.dropFirst(2)) : reference.name
            let candidates = [root.appendingPathComponent(name), file.deletingLastPathComponent().appendingPathComponent(name)]
            let exists = candidates.contains { insideRepository($0) && fm.fileExists(atPath: $0.standardizedFileURL.path) }
            if !exists {
                problems.append("\(location): refers to \(reference.name), which does not exist in the repository (expected a file relative to the root or to \(shown)'s folder)")
            }
        }
    }
    return problems
}

@Suite("Document references")
struct DocumentReferenceTests {
    @Test("every document the repository refers to is in the repository")
    func repositoryReferencesResolve() {
        let problems = documentReferenceProblems(root: packageRoot, paths: scannedPaths,
                                                 skipping: URL(fileURLWithPath: #filePath))
        #expect(problems.isEmpty, "\n\(problems.joined(separator: "\n"))")
    }

    @Test("the scanner finds names with paths and anchors, and skips web addresses")
    func scannerFindsNames() {
        let text = """
        see docs/kernels.md#gemm and (README.md).
        https://github.com/apple/swift/README.md is elsewhere; a.mdx is not markdown
        error at notes.md:12
        """
        #expect(documentReferences(in: text) == [
            DocumentReference(line: 1, name: "docs/kernels.md"),
            DocumentReference(line: 1, name: "README.md"),
            DocumentReference(line: 3, name: "notes.md"),
        ])
    }

    @Test("missing, outside and escaping references are reported with file and line")
    func problemsAreReported() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptrain-docrefs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let docs = root.appendingPathComponent("docs")
        try FileManager.default.createDirectory(at: docs, withIntermediateDirectories: true)
        try Data("# r\n".utf8).write(to: root.appendingPathComponent("README.md"))
        try Data("# a\nsee [b](b.md), ../README.md and docs/a.md\n".utf8).write(to: docs.appendingPathComponent("a.md"))
        try Data("# b\n".utf8).write(to: docs.appendingPathComponent("b.md"))
        // An outside document is refused even when a file of that name exists.
        let outside = "PLATFORM" + ".md"
        try Data("# p\n".utf8).write(to: docs.appendingPathComponent(outside))
        let code = "// ok: docs/b.md\n// see \(outside)\n// and docs/missing.md\n// and ../shared/notes.md\n"
        try Data(code.utf8).write(to: root.appendingPathComponent("main.swift"))
        let problems = documentReferenceProblems(root: root, paths: ["docs", "main.swift", "README.md"])
        #expect(problems == [
            "main.swift:2: refers to \(outside), a document outside the repository; refer to the docs/ files instead",
            "main.swift:3: refers to docs/missing.md, which does not exist in the repository (expected a file relative to the root or to main.swift's folder)",
            "main.swift:4: refers to ../shared/notes.md, which does not exist in the repository (expected a file relative to the root or to main.swift's folder)",
        ])
    }
}
