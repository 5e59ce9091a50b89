import Foundation
import PTrain
import PTrainData
import Testing

/// Creates `root/relative` (parents too) holding `bytes`.
private func touch(_ root: URL, _ relative: String, _ bytes: [UInt8] = [1]) throws {
    let url = root.appendingPathComponent(relative)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(bytes).write(to: url)
}

@Suite("ImageFileList: image folders and list files")
struct ImageFileListTests {
    @Test func foldersAreSortedClassesAndImageFiles() throws {
        try withTemporaryDirectory { root in
            for file in ["train/dog/b.JPG", "train/dog/a.png", "train/cat/z.jpeg", "train/cat/notes.txt",
                         "train/cat/.hidden.jpg", "train/.cache/x.jpg", "train/Bird/1.jpg"] {
                try touch(root, file)
            }
            let list = try ImageFileList.read(root: root, split: "train", name: "pets")
            // Byte order: upper case first, as torchvision sorts.
            #expect(list.classNames == ["Bird", "cat", "dog"])
            #expect(list.paths.map { String($0.dropFirst(root.path.count + 1)) }
                    == ["train/Bird/1.jpg", "train/cat/z.jpeg", "train/dog/a.png", "train/dog/b.JPG"])
            #expect(list.labels == [0, 1, 2, 2])
            #expect(list.name == "pets/train" && list.count == 4 && list.classes == 3)
        }
    }

    @Test func listFilesHoldPathsAndLabels() throws {
        try withTemporaryDirectory { root in
            try touch(root, "train.txt", Array("# path label\nimgs/a b.jpg 2\n/abs/c.png\t0\n\nimgs/d.png 1\n".utf8))
            let list = try ImageFileList.read(root: root, split: "train", name: "mine")
            #expect(list.paths == [root.appendingPathComponent("imgs/a b.jpg").path, "/abs/c.png", root.appendingPathComponent("imgs/d.png").path])
            #expect(list.labels == [2, 0, 1])
            #expect(list.classNames == ["0", "1", "2"])
        }
    }

    @Test func problemsAreOneErrorNamingThePath() throws {
        try withTemporaryDirectory { root in
            #expect(throws: DataError("\(root.path): no split 'train': expected a folder of class folders \(root.path)/train/CLASS/*.jpg|png or a list file \(root.path)/train.txt")) {
                try ImageFileList.read(root: root, split: "train", name: "x")
            }
            try FileManager.default.createDirectory(at: root.appendingPathComponent("train"), withIntermediateDirectories: true)
            #expect(throws: DataError("\(root.path)/train: no class folders: expected \(root.path)/train/CLASS/IMAGE.jpg|png")) {
                try ImageFileList.read(root: root, split: "train", name: "x")
            }
            try touch(root, "train/a/1.png")
            try touch(root, "train/b/notes.txt")
            #expect(throws: DataError("\(root.path)/train/b: class folder 'b' holds no images (expected files ending in .jpg, .jpeg or .png)")) {
                try ImageFileList.read(root: root, split: "train", name: "x")
            }
            try touch(root, "test.txt", Array("a.png 1\nb.png\n".utf8))
            #expect(throws: DataError("\(root.path)/test.txt: line 2: expected PATH LABEL, found 'b.png'")) {
                try ImageFileList.read(root: root, split: "test", name: "x")
            }
            try touch(root, "val.txt", Array("a.png one\n".utf8))
            #expect(throws: DataError("\(root.path)/val.txt: line 1: expected a label 0...65535, found 'one'")) {
                try ImageFileList.read(root: root, split: "val", name: "x")
            }
            try touch(root, "empty.txt", Array("# nothing\n".utf8))
            #expect(throws: DataError("\(root.path)/empty.txt: no images listed (expected lines of PATH LABEL)")) {
                try ImageFileList.read(root: root, split: "empty", name: "x")
            }
        }
    }

    @Test func listFileThatIsAFIFOIsRefusedWithoutBlocking() throws {
        try withTemporaryDirectory { root in
            let fifo = root.appendingPathComponent("train.txt").path
            #expect(mkfifo(fifo, 0o600) == 0)
            #expect(throws: DataError("\(fifo): is a FIFO (named pipe), not a regular file")) {
                try ImageFileList.read(root: root, split: "train", name: "x")
            }
        }
    }
}

@Suite("The validation hold-out of the training split")
struct HoldOutTests {
    @Test func deterministicDisjointAndComplete() {
        let a = DataSources.holdOut(count: 1000, fraction: 0.1, seed: 7)
        #expect(a.held.count == 100 && a.kept.count == 900)
        #expect(Set(a.held).isDisjoint(with: a.kept) && Set(a.held + a.kept) == Set(0..<1000))
        #expect(a.held == a.held.sorted() && a.kept == a.kept.sorted())
        let again = DataSources.holdOut(count: 1000, fraction: 0.1, seed: 7)
        #expect(again.held == a.held && again.kept == a.kept)
        // Another seed holds out other samples; not simply the first or last ones.
        #expect(DataSources.holdOut(count: 1000, fraction: 0.1, seed: 8).held != a.held)
        #expect(a.held != Array(0..<100) && a.held != Array(900..<1000))
    }
}
