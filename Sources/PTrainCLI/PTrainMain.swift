import ArgumentParser
import Foundation
import PTrain
import PTrainData
import PTrainExperiments
import PTrainRuntime

/// `ptrain`: the command line. Parsing and printing only; the work lives in
/// the libraries (docs/architecture.md: the CLI is thin).
@main
struct PTrainMain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptrain",
        abstract: "Train convolutional networks on CPUs, data-parallel across cores.",
        version: BuildInfo.current.versionText,
        subcommands: [TrainCommand.self, EvalCommand.self, SummaryCommand.self, CheckCommand.self, CompareCommand.self, SearchCommand.self, TopoCommand.self, ScaleCommand.self, BenchCommand.self, BenchGEMMCommand.self, BenchAllreduceCommand.self,
                      FilterCommand.self, ShowDataCommand.self, PredictCommand.self, BenchDataCommand.self, MakeImageFolderCommand.self])
}

/// Options shared by every command that reads a config.
struct ConfigOptions: ParsableArguments {
    @Argument(help: "The run's YAML config file (see configs/).")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key, e.g. --set train.epochs=3 (repeatable).",
                                                          valueName: "key.path=value"))
    var overrides: [String] = []

    func load(extra: [String] = []) throws -> RunConfig {
        try RunConfig.load(file: config, overrides: overrides + extra)
    }
}

/// `--workers N --bind core|none`: shared by the commands that run training steps.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Worker threads (overrides runtime.workers; default: one per physical core this process may use, at most floor(its CPU quota)).")
    var workers: Int?

    @Option(help: "Pin workers to cores (core) or not (none); overrides runtime.bind.")
    var bind: String?

    /// The options as `--set` overrides.
    var overrides: [String] {
        (workers.map { ["runtime.workers=\($0)"] } ?? []) + (bind.map { ["runtime.bind=\($0)"] } ?? [])
    }
}

/// Runs `body`, turning the errors a user can cause (config, data, run) into
/// one line on stderr and exit status 1 — never a trap or a stack trace.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ConfigError {
        fail(e.description)
    } catch let e as DataError {
        fail(e.description)
    } catch let e as RunError {
        fail(e.description)
    } catch let e as Safetensors.FormatError {
        fail(e.description)
    } catch let e as AtomicFile.WriteError {
        fail(e.description)
    } catch let e as Checkpoint.LoadError {
        fail(e.description)
    } catch let e as RegularFile.ReadError {
        fail(e.description)
    } catch let e as AllocationError {
        fail(e.description)
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    Foundation.exit(1)
}

/// Prints a line and flushes, so progress shows up promptly in pipes and logs.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
