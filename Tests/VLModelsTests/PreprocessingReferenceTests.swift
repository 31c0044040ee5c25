import Foundation
import Testing
import VLImage

@testable import VLModels

/// Preprocessing against transformers' `Qwen2VLImageProcessorPil` (see Tests/Fixtures/preprocess/README.md).
@Suite struct PreprocessingReferenceTests {
    typealias Fixture = PreprocessingFixtures

    @Test(arguments: Fixture.smartResize)
    func smartResizeMatchesTransformers(entry: Fixture.SmartResizeEntry) {
        let size = SmartResize.targetSize(
            height: entry.height, width: entry.width, factor: entry.factor,
            minPixels: entry.minPixels, maxPixels: entry.maxPixels)
        if entry.error != nil {
            #expect(size == nil)
        } else {
            #expect(size?.height == entry.hBar && size?.width == entry.wBar)
        }
    }

    static func processor(for testCase: Fixture.Case) throws -> QwenImageProcessor {
        let directory = Fixture.folder.appendingPathComponent(Fixture.all.configs[testCase.config]!.path)
            .deletingLastPathComponent()
        let config = try VisualTokenBudget(minPixels: testCase.minPixels, maxPixels: testCase.maxPixels)
            .applied(to: ImageProcessorConfig.load(directory: directory))
        return QwenImageProcessor(config: config)
    }

    static func decode(_ relativePath: String) throws -> RGBImage {
        try ImageDecoder.decode(fileAt: Fixture.folder.appendingPathComponent(relativePath).path).image
    }

    /// Decoding and preprocessing from the input file: sizes, grid and token count exactly; values to within a
    /// grey level, which is all a different JPEG decoder build could change.
    @Test(arguments: Fixture.all.cases)
    func endToEndMatchesTransformers(testCase: Fixture.Case) throws {
        let processor = try Self.processor(for: testCase)
        let image = try Self.decode(testCase.image)
        #expect(image.width == testCase.originalWidth && image.height == testCase.originalHeight)
        guard testCase.expect == "ok" else {
            #expect(throws: ModelError.self) { try processor.preprocess(image, source: testCase.image) }
            return
        }
        let patches = try processor.preprocess(image, source: testCase.image)
        #expect(patches.resizedWidth == testCase.resizedWidth && patches.resizedHeight == testCase.resizedHeight)
        #expect([patches.grid.temporal, patches.grid.height, patches.grid.width] == testCase.imageGridThw)
        #expect(patches.imageTokenCount == testCase.numImageTokens)
        #expect([patches.grid.patchCount, patches.patchDimension] == testCase.pixelValuesShape)

        let lut = Fixture.all.configs[testCase.config]!.normalizeLut
        let oneGreyLevel = lut.map { channel in zip(channel.dropFirst(), channel).map { $0 - $1 }.max()! }
        var differing = 0
        var compared = 0
        for row in testCase.sampleRows ?? [] {
            let expected = Self.expand(row, lut: lut, patch: processor.config.patchSize)
            let actual = patches.values[(row.index * patches.patchDimension)...].prefix(patches.patchDimension)
            for (column, (a, e)) in zip(actual, expected).enumerated() where a != e {
                differing += 1
                let channel = column / (patches.patchDimension / 3)
                #expect(abs(a - e) <= oneGreyLevel[channel] * 1.0001, "row \(row.index) column \(column)")
            }
            compared += expected.count
        }
        #expect(Double(differing) <= Double(compared) * 0.001, "\(differing) of \(compared) values differ")

        let stats = try #require(testCase.stats)
        let (mean, std) = Self.meanAndStandardDeviation(patches.values)
        #expect(abs(mean - stats.mean) <= 1e-3 && abs(std - stats.std) <= 1e-3)
    }

    /// Resampling alone, from the decoded input to the uint8 image transformers normalised: ±1 grey level and at
    /// least 99.9 % identical (it is exact when decoding is).
    @Test(arguments: Fixture.all.cases.filter { $0.resizedImage != nil && $0.expect == "ok" })
    func resamplingMatchesPillow(testCase: Fixture.Case) throws {
        let reference = try Self.decode(testCase.resizedImage!)
        let resized = BicubicResampler.resize(
            try Self.decode(testCase.image), width: reference.width, height: reference.height)
        let differences = zip(resized.pixels, reference.pixels).map { abs(Int($0) - Int($1)) }
        #expect(differences.allSatisfy { $0 <= 1 })
        #expect(Double(differences.filter { $0 != 0 }.count) <= Double(differences.count) * 0.001)
    }

    /// Normalisation and patch order from the exact image transformers normalised: bit-exact rows and statistics.
    @Test(arguments: Fixture.all.cases.filter { $0.resizedImage != nil && $0.expect == "ok" })
    func patchesFromReferenceImageAreExact(testCase: Fixture.Case) throws {
        let processor = try Self.processor(for: testCase)
        let reference = try Self.decode(testCase.resizedImage!)
        let patch = processor.config.patchSize
        let grid = PatchGrid(temporal: 1, height: reference.height / patch, width: reference.width / patch)
        let values = processor.patchify(reference, grid: grid)
        let width = processor.config.patchDimension
        let lut = Fixture.all.configs[testCase.config]!.normalizeLut
        for row in testCase.sampleRows ?? [] {
            let actual = Array(values[(row.index * width)..<((row.index + 1) * width)])
            #expect(actual == Self.expand(row, lut: lut, patch: patch), "row \(row.index)")
            if let literal = row.values { #expect(actual == literal, "literal row \(row.index)") }
        }
        let stats = try #require(testCase.stats)
        let (mean, std) = Self.meanAndStandardDeviation(values)
        #expect(abs(mean - stats.mean) <= 1e-9 * max(1, abs(stats.mean)))
        #expect(abs(std - stats.std) <= 1e-9 * stats.std)
        #expect(values.min() == stats.min && values.max() == stats.max)
    }

    /// A sample row as the reference stored it: uint8 patch `(c, y, x)` → float row `(c, t, y, x)` through the LUT.
    static func expand(_ row: Fixture.SampleRow, lut: [[Float]], patch: Int) -> [Float] {
        let bytes = [UInt8](Data(base64Encoded: row.u8B64)!)
        let plane = patch * patch
        var values: [Float] = []
        for channel in 0..<3 {
            let channelValues = bytes[(channel * plane)..<((channel + 1) * plane)].map { lut[channel][Int($0)] }
            values += channelValues + channelValues  // two identical temporal frames
        }
        return values
    }

    static func meanAndStandardDeviation(_ values: [Float]) -> (Double, Double) {
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)
        return (mean, variance.squareRoot())
    }
}
