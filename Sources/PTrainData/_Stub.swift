// TEMPORARY stand-in for the reader API being written in parallel.
import Foundation
public struct ImageSet: Sendable {
    public let name: String
    public let count: Int, channels: Int, height: Int, width: Int
    public let pixels: [UInt8]
    public let labels: [UInt8]
    public let maxPixelValue: Float
    public let classes: Int
    public init(name: String, count: Int, channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [UInt8], maxPixelValue: Float, classes: Int) {
        self.name = name; self.count = count; self.channels = channels; self.height = height; self.width = width
        self.pixels = pixels; self.labels = labels; self.maxPixelValue = maxPixelValue; self.classes = classes
    }
}
public struct DataError: Error, CustomStringConvertible { public let description: String }
public enum DatasetKind: String, CaseIterable, Sendable { case mnist, fashionMNIST = "fashion-mnist", digits, cifar10 = "cifar-10" }
public enum DatasetSplit: String, Sendable { case train, test }
public enum DatasetLocator { public static func directory(for: DatasetKind, configuredPath: String?, environment: [String: String]) throws -> URL { fatalError() } }
public enum DatasetLoader { public static func load(_ kind: DatasetKind, split: DatasetSplit, directory: URL) throws -> ImageSet { fatalError() } }
