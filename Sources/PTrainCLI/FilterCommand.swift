import ArgumentParser
import Foundation
import PTrainData
import PTrainRuntime

struct FilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Convolve a gray or RGB image (PNG, JPEG, PGM, PPM) with a classic 3x3 kernel, using ptrain's convolution layer.")

    @Option(help: "edge1, edge2, edge3, sharpen, box or gaussian.")
    var kernel: String

    @Argument(help: "Input image (PNG, JPEG, PGM or PPM; recognised by its first bytes).")
    var input: String

    @Argument(help: "Output image; the format follows the extension (.png, .pgm, .ppm).")
    var output: String

    func validate() throws {
        guard ClassicFilter(rawValue: kernel) != nil else {
            throw ValidationError("--kernel: expected one of \(ClassicFilter.allCases.map(\.rawValue).joined(separator: ", ")), found '\(kernel)'")
        }
    }

    func run() throws {
        try reportingErrors {
            let image = try ImageFile.read(URL(fileURLWithPath: input))
            try ImageFile.write(ClassicFilter(rawValue: kernel)!.apply(to: image), to: URL(fileURLWithPath: output))
            say("\(output): \(image.width)x\(image.height) \(image.channels == 1 ? "gray" : "RGB"), \(kernel)")
        }
    }
}

struct ShowDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show-data",
        abstract: "Write a grid of training samples as the network sees them (augmentation applied) to a PNG/PGM/PPM file.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Output image (.png, .pgm or .ppm).")
    var out: String

    @Option(help: "Samples in the grid.")
    var count: Int = 64

    @Option(help: "Epoch whose augmentation draws are shown.")
    var epoch: Int = 0

    func run() throws {
        try reportingErrors {
            let config = try options.load()
            let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
            let grid = SampleGrid.make(data.train, data: config.data, count: max(count, 1), epoch: epoch, seed: config.seed)
            try ImageFile.write(grid, to: URL(fileURLWithPath: out))
            say("\(out): \(min(count, data.train.count)) samples of \(data.train.shape), epoch \(epoch)")
        }
    }
}
