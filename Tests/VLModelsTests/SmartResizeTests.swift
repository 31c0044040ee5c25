import Testing

@testable import VLModels

@Suite struct SmartResizeTests {
    /// The worked examples of the team's qwen-architecture.md §2.2 (transformers' class budget for Qwen2-VL is
    /// replaced there by the checkpoints' 12845056 / Qwen3-VL's 65536…16777216).
    @Test(arguments: [
        (448, 448, 28, 448, 448), (480, 640, 28, 476, 644), (406, 406, 28, 392, 392),
        (1080, 1920, 28, 1092, 1932), (100, 100, 28, 112, 112),
        (448, 448, 32, 448, 448), (480, 640, 32, 480, 640), (406, 406, 32, 416, 416),
        (1080, 1920, 32, 1088, 1920), (100, 100, 32, 256, 256),
    ])
    func workedExamples(height: Int, width: Int, factor: Int, expectedHeight: Int, expectedWidth: Int) throws {
        let minPixels = factor == 28 ? 3136 : 65536
        let maxPixels = factor == 28 ? 12_845_056 : 16_777_216
        let size = try #require(
            SmartResize.targetSize(
                height: height, width: width, factor: factor, minPixels: minPixels, maxPixels: maxPixels))
        #expect(size.height == expectedHeight && size.width == expectedWidth)
    }

    @Test func rejectsAspectRatioAbove200ButAcceptsExactly200() {
        #expect(SmartResize.targetSize(height: 1, width: 201, factor: 28, minPixels: 3136, maxPixels: 1 << 24) == nil)
        #expect(SmartResize.targetSize(height: 5, width: 1000, factor: 28, minPixels: 3136, maxPixels: 1 << 24) != nil)
    }
}
