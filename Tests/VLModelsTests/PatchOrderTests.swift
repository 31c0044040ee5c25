import Testing
import VLImage

@testable import VLModels

/// Checks the flattening order against the reference's reshape/permute written as index arithmetic.
@Suite struct PatchOrderTests {
    @Test(arguments: [14, 16])
    func rowsAndColumnsFollowTheReferencePermutation(patch: Int) throws {
        var config = ImageProcessorConfig.transformersDefaults
        config.patchSize = patch
        config.doNormalize = false
        config.doRescale = false
        let factor = patch * 2
        // 2×3 merge blocks; already a multiple of the factor and inside the budget, so no resampling happens.
        let width = 3 * factor
        let height = 2 * factor
        config.minPixels = 1
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                pixels[(y * width + x) * 3] = UInt8(x % 251)
                pixels[(y * width + x) * 3 + 1] = UInt8(y % 251)
                pixels[(y * width + x) * 3 + 2] = UInt8((x * 7 + y * 13) % 256)
            }
        }
        let image = RGBImage(width: width, height: height, pixels: pixels)
        let patches = try QwenImageProcessor(config: config).preprocess(image, source: "synthetic")
        #expect(patches.grid == PatchGrid(temporal: 1, height: 4, width: 6))
        #expect(patches.imageTokenCount == 6)
        let columns = 3 * 2 * patch * patch
        for row in 0..<patches.grid.patchCount {
            // (gh/m, gw/m, m, m) in C order
            let innerColumn = row % 2
            let innerRow = (row / 2) % 2
            let blockColumn = (row / 4) % 3
            let blockRow = row / 12
            for column in stride(from: 0, to: columns, by: 5) {
                // (C, T, p, p) in C order
                let x = column % patch
                let y = (column / patch) % patch
                let channel = column / (2 * patch * patch)
                let pixelY = (blockRow * 2 + innerRow) * patch + y
                let pixelX = (blockColumn * 2 + innerColumn) * patch + x
                let expected = Float(pixels[(pixelY * width + pixelX) * 3 + channel])
                #expect(patches.values[row * columns + column] == expected)
            }
        }
    }
}
