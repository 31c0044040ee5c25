import Foundation
import Testing
import VLCore

@testable import VLModels

/// The Qwen2-VL / Qwen2.5-VL vision tower: its rotary table, window layout and input checks by hand, and the whole
/// tower against transformers' intermediates on the tiny reference checkpoints.
@Suite struct Qwen2VisionTowerTests {
    // MARK: - Rotary table

    @Test func rotaryAnglesFollowRowAndColumnInMergeBlockOrder() {
        // headDim 8: d = 4, inv_freq = [1 / 10000^(0/4), 1 / 10000^(2/4)] = [1, 0.01].
        let table = VisionRotaryTable(headDim: 8)
        #expect(table.inverseFrequencies == [1, 0.01])
        let grid = PatchGrid(temporal: 1, height: 4, width: 4)
        let (cos, sin) = table.table(for: [grid], mergeSize: 2)
        #expect(cos.count == 16 * 8 && sin.count == 16 * 8)
        // Merge-block order: block (0,0) holds (0,0) (0,1) (1,0) (1,1), block (0,1) holds (0,2) (0,3) (1,2) (1,3), ...
        let expected = [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0)]
        for (patch, (row, column)) in expected.enumerated() {
            let angles = [Float(row), Float(row) * 0.01, Float(column), Float(column) * 0.01]
            let base = patch * 8
            for i in 0..<4 {
                #expect(cos[base + i] == cosf(angles[i]) && cos[base + 4 + i] == cosf(angles[i]))
                #expect(sin[base + i] == sinf(angles[i]) && sin[base + 4 + i] == sinf(angles[i]))
            }
        }
    }

    @Test func rotaryTableRepeatsPerFrameAndRestartsPerImage() {
        let table = VisionRotaryTable(headDim: 16)
        let still = PatchGrid(temporal: 1, height: 2, width: 4)
        let clip = PatchGrid(temporal: 2, height: 2, width: 4)
        let single = table.table(for: [still], mergeSize: 2)
        let both = table.table(for: [still, clip], mergeSize: 2)
        let frame = still.patchCount * 16
        #expect(both.cos.count == 3 * frame)
        for copy in 0..<3 {
            #expect(Array(both.cos[(copy * frame)..<((copy + 1) * frame)]) == single.cos)
            #expect(Array(both.sin[(copy * frame)..<((copy + 1) * frame)]) == single.sin)
        }
    }

    // MARK: - Windows

    @Test func windowIndexOf448SquareMatchesTheReference() {
        // qwen-architecture.md §3.2: a 32×32 patch grid is 16×16 merge units, 4×4 windows of 4×4 units each.
        let windows = VisionWindows(
            grids: [PatchGrid(temporal: 1, height: 32, width: 32)], mergeSize: 2, windowSide: 112 / 2 / 14)
        #expect(
            Array(windows.mergeUnitOrder.prefix(20)) == [
                0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51, 4, 5, 6, 7,
            ])
        #expect(windows.mergeUnitOrder.sorted() == Array(0..<256))
        #expect(windows.windowBoundaries == Array(stride(from: 0, through: 1024, by: 64)))
        #expect(windows.frameBoundaries == [0, 1024])
        #expect(windows.isPermuted)
    }

    @Test func partialWindowsAreClippedAndWindowsStayInsideImages() {
        // 6×10 patches = 3×5 units: one 3×4 window and one 3×1 window; then a 4×4-patch image, one 2×2-unit window.
        let windows = VisionWindows(
            grids: [PatchGrid(temporal: 1, height: 6, width: 10), PatchGrid(temporal: 1, height: 4, width: 4)],
            mergeSize: 2, windowSide: 4)
        #expect(windows.mergeUnitOrder == [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 4, 9, 14, 15, 16, 17, 18])
        #expect(windows.windowBoundaries == [0, 48, 60, 76])
        #expect(windows.frameBoundaries == [0, 60, 76])
    }

    @Test func temporalGroupsAreWindowedSeparately() {
        let windows = VisionWindows(grids: [PatchGrid(temporal: 2, height: 2, width: 4)], mergeSize: 2, windowSide: 1)
        #expect(windows.mergeUnitOrder == [0, 1, 2, 3])
        #expect(windows.windowBoundaries == [0, 4, 8, 12, 16])
        #expect(windows.frameBoundaries == [0, 8, 16])
        #expect(!windows.isPermuted)
    }

    @Test func qwen2VLAttendsPerFrameInPixelOrder() {
        let grids = [PatchGrid(temporal: 2, height: 4, width: 6), PatchGrid(temporal: 1, height: 2, width: 2)]
        let windows = VisionWindows(grids: grids, mergeSize: 2, windowSide: nil)
        #expect(windows.mergeUnitOrder == Array(0..<13))
        #expect(windows.windowBoundaries == [0, 24, 48, 52])
        #expect(windows.frameBoundaries == windows.windowBoundaries)
        #expect(VisionWindows.segments(windows.frameBoundaries) == [0..<24, 24..<48, 48..<52])
    }

    // MARK: - Input checks

    static let vision = Qwen2VLConfig.Vision(
        depth: 1, width: 16, heads: 2, intermediateSize: 32, patchSize: 2, temporalPatchSize: 2, mergeSize: 2,
        inChannels: 3, outputSize: 8, windowSize: 8, fullAttentionBlocks: [])

    static func patches(_ grid: PatchGrid, dimension: Int = vision.patchDimension, extra: Int = 0) -> ImagePatches {
        ImagePatches(
            values: [Float](repeating: 0.5, count: grid.patchCount * dimension + extra), patchDimension: dimension,
            grid: grid, resizedWidth: grid.width * 2, resizedHeight: grid.height * 2,
            imageTokenCount: grid.patchCount / 4)
    }

    static let badImages: [String: ImagePatches] = [
        "odd height": patches(PatchGrid(temporal: 1, height: 3, width: 4)),
        "odd width": patches(PatchGrid(temporal: 1, height: 4, width: 5)),
        "empty grid": patches(PatchGrid(temporal: 0, height: 4, width: 4)),
        "patch width": patches(PatchGrid(temporal: 1, height: 2, width: 2), dimension: 1176),
        "value count": patches(PatchGrid(temporal: 1, height: 2, width: 2), extra: 1),
    ]

    @Test(arguments: badImages.keys.sorted())
    func rejectsImagesTheTowerCannotEncode(problem: String) throws {
        let image = try #require(Self.badImages[problem])
        let good = Self.patches(PatchGrid(temporal: 1, height: 2, width: 4))
        #expect(throws: Never.self) { try Qwen2VisionTower.validate([good], vision: Self.vision) }
        #expect {
            try Qwen2VisionTower.validate([good, image], vision: Self.vision)
        } throws: { error in
            guard case .invalidInput(let reason) = error as? ModelError else { return false }
            return reason.hasPrefix("image 1:")
        }
    }
}
