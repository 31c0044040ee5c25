import ArgumentParser
import Foundation
import VLCore
import VLImage
import VLModels

/// `vlbatch inspect image`: decode and preprocess images exactly as a model would see them, and report.
struct InspectImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Decode and preprocess images; print one JSON object per file.",
        discussion: """
            Each line holds the path, the stored size, the EXIF orientation applied, the resized size, the patch \
            grid (t, h, w) and the number of visual tokens, or an error. The exit status is 1 when any file \
            failed. With --dump, pixel_values is written per image as a float32 .npy array of shape \
            [patches, channels*2*patch*patch].
            """)

    @Argument(help: "Image files (PNG or JPEG, recognised by content).")
    var files: [String]

    @Option(help: "A directory holding a preprocessor_config.json (a model or processor directory).")
    var processor: String

    @OptionGroup var budget: ImageBudgetOptions

    @Option(help: "Write pixel_values of each image to this directory as <name>.npy.")
    var dump: String?

    func run() throws {
        let processor = try budget.makeProcessor(directory: processor)
        let dumpDirectory = try dump.map(Self.createDirectory)
        var dumpNames = UniqueFileNames()
        var failures = 0
        for file in files {
            var record = ImageInspection(path: file)
            do {
                let decoded = try ImageDecoder.decode(fileAt: file, limits: budget.decodingLimits)
                record.describe(decoded)
                let patches = try processor.preprocess(decoded.image, source: file)
                record.describe(patches)
                if let dumpDirectory {
                    let target = dumpDirectory.appendingPathComponent(dumpNames.claim(stemOf: file) + ".npy")
                    let bytes = NumpyArrayFile.encode(
                        float32: patches.values, shape: [patches.grid.patchCount, patches.patchDimension])
                    try Data(bytes).write(to: target)
                    record.dump = target.path
                }
            } catch {
                failures += 1
                record.error = ErrorRecord(error)
            }
            print(try JSONLine.encode(record))
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private static func createDirectory(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// What `inspect image` reports for one file.
struct ImageInspection: Encodable {
    let path: String
    var format: String?
    var storedWidth: Int?
    var storedHeight: Int?
    var exifOrientation: Int?
    var transparencyComposited: Bool?
    var width: Int?
    var height: Int?
    var resizedWidth: Int?
    var resizedHeight: Int?
    var gridThw: [Int]?
    var visualTokens: Int?
    var dump: String?
    var error: ErrorRecord?

    init(path: String) { self.path = path }

    mutating func describe(_ decoded: DecodedImage) {
        format = decoded.format.rawValue
        storedWidth = decoded.storedWidth
        storedHeight = decoded.storedHeight
        exifOrientation = decoded.orientation
        transparencyComposited = decoded.compositedTransparency
        width = decoded.image.width
        height = decoded.image.height
    }

    mutating func describe(_ patches: ImagePatches) {
        resizedWidth = patches.resizedWidth
        resizedHeight = patches.resizedHeight
        gridThw = [patches.grid.temporal, patches.grid.height, patches.grid.width]
        visualTokens = patches.imageTokenCount
    }
}
