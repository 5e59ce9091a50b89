import Foundation
import PTrain
import Testing

// Config files on disk: `base:` paths (absolute or relative), cycles named by
// their chain, files that are not regular files, and the messages for a
// missing model section or an empty document.

@Suite("config files: base paths, cycles, unreadable files")
struct ConfigFileTests {
    @Test func baseMayBeAbsoluteOrRelative() throws {
        try withScratchDirectory { dir in
            let models = dir.appendingPathComponent("models")
            let runs = dir.appendingPathComponent("runs/x")
            try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
            try baseConfig.write(to: models.appendingPathComponent("base.yaml"), atomically: true, encoding: .utf8)
            let absolute = runs.appendingPathComponent("abs.yaml")
            try "base: \(models.path)/base.yaml\nseed: 4\n".write(to: absolute, atomically: true, encoding: .utf8)
            #expect(try RunConfig.load(file: absolute.path).seed == 4)
            let relative = runs.appendingPathComponent("rel.yaml")
            try "base: ../../models/base.yaml\nseed: 5\n".write(to: relative, atomically: true, encoding: .utf8)
            #expect(try RunConfig.load(file: relative.path).seed == 5)
            #expect(ConfigFile.path("/abs/path/m.yaml", from: "/tmp/x/a.yaml") == "/abs/path/m.yaml")
            #expect(ConfigFile.path("m.yaml", from: "/tmp/x/a.yaml") == "/tmp/x/m.yaml")
        }
    }

    @Test func aCycleNamesItsChain() throws {
        try withScratchDirectory { dir in
            try "base: b.yaml\nseed: 1\n".write(to: dir.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
            try "seed: 2\nbase: c.yaml\n".write(to: dir.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
            try "base: ./a.yaml\n".write(to: dir.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
            let c = dir.appendingPathComponent("c.yaml").path
            #expect(throws: ConfigError("\(c):1:7: base: base configs form a cycle: a.yaml -> b.yaml -> c.yaml -> a.yaml")) {
                _ = try RunConfig.load(file: dir.appendingPathComponent("a.yaml").path)
            }
            try "base: self.yaml\n".write(to: dir.appendingPathComponent("self.yaml"), atomically: true, encoding: .utf8)
            let me = dir.appendingPathComponent("self.yaml").path
            #expect(throws: ConfigError("\(me):1:7: base: base configs form a cycle: self.yaml -> self.yaml")) {
                _ = try RunConfig.load(file: me)
            }
        }
    }

    @Test func aConfigThatIsNotARegularFileIsRefusedUnopened() throws {
        try withScratchDirectory { dir in
            let fifo = dir.appendingPathComponent("pipe.yaml")
            try makeFIFO(fifo)
            #expect(throws: ConfigError("\(fifo.path): cannot read the config file (is a FIFO (named pipe), not a regular file)")) {
                _ = try RunConfig.load(file: fifo.path)
            }
            let child = dir.appendingPathComponent("child.yaml")
            try "base: pipe.yaml\n".write(to: child, atomically: true, encoding: .utf8)
            #expect(throws: ConfigError("\(child.path):1:7: base: cannot read the base config \(fifo.path) (is a FIFO (named pipe), not a regular file)")) {
                _ = try RunConfig.load(file: child.path)
            }
            let missing = dir.appendingPathComponent("none.yaml").path
            #expect(throws: ConfigError("\(missing): cannot read the config file (no such file)")) {
                _ = try RunConfig.load(file: missing)
            }
        }
    }
}

@Test("a config without a model section says so; an empty document says it is empty")
func missingSectionAndEmptyDocument() {
    let noModel = "data: {dataset: synthetic}\ntrain: {epochs: 1, batch: 8}\n"
    #expect(configError(noModel) == "t.yaml:1:1: top level: missing required section 'model'")
    #expect(configError(noModel + "model:\n") == "t.yaml:1:1: top level: missing required section 'model'")
    for empty in ["", "# only a comment\n", "---\n", "~\n"] {
        #expect(configError(empty) == "t.yaml: the document is empty", "\(empty.debugDescription)")
    }
    #expect(configError("- 1\n- 2\n") == "t.yaml:1:1: top level: expected a mapping, found a list of 2 items")
}
