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

/// The tower against transformers 5.23 (fp32 compute from the bf16 weights) on the tiny checkpoints in
/// `Tests/Fixtures/models` (see its manifest.json for how they were made): the golden `pixel_values` and grids go in,
/// and the patch embedding, every block's output and the merged features must match within 1e-4 relative
/// (max |a − b| / max |b| per tensor).
///
/// Measured on x86-64 (AVX-512 kernels), both families, both image cases: patch_embed 1.2e-6 to 1.8e-6, block outputs
/// 9.5e-7 to 1.7e-6, image_embeds 7.7e-7 to 1.6e-6; so 1e-4 leaves a wide margin for other instruction sets.
@Suite struct Qwen2VisionTowerReferenceTests {
    static let models = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/models")

    /// One golden case with images: `<model>/goldens/<case>/`.
    struct Case: CustomTestStringConvertible, Sendable {
        let model: String
        let name: String
        var testDescription: String { "\(model) \(name)" }
        var checkpoint: URL { Qwen2VisionTowerReferenceTests.models.appendingPathComponent(model) }
        var directory: URL { checkpoint.appendingPathComponent("goldens/\(name)") }

        func floats(_ file: String) throws -> (shape: [Int], floats: [Float]) {
            try NumpyFixture.load(directory.appendingPathComponent(file + ".npy"))
        }

        func integers(_ file: String) throws -> [Int] {
            try NumpyFixture.loadInt64(directory.appendingPathComponent(file + ".npy")).values.map { Int($0) }
        }

        /// The golden `pixel_values` (named in case.json) cut into one `ImagePatches` per `image_grid_thw` row.
        func images() throws -> [ImagePatches] {
            let description = try JSONSerialization.jsonObject(
                with: Data(contentsOf: directory.appendingPathComponent("case.json")))
            let entry = (description as? [String: Any])?["pixel_values"] as? [String: Any]
            let file = try #require(entry?["file"] as? String, "case.json names no pixel_values file")
            let pixels: (shape: [Int], floats: [Float])
            if let lutFile = entry?["lut"] as? String {
                // Stored compactly: pixel_values[i, j] = lut[channel of column j, u8[i, j]], lut [channels, 256].
                let bytes = try NumpyFixture.loadInt64(directory.appendingPathComponent(file))
                let lut = try NumpyFixture.load(directory.appendingPathComponent(lutFile))
                let columnsPerChannel = bytes.shape[1] / lut.shape[0]
                let floats = bytes.values.enumerated().map { index, byte in
                    lut.floats[(index % bytes.shape[1] / columnsPerChannel) * 256 + Int(byte)]
                }
                pixels = (bytes.shape, floats)
            } else {
                pixels = try NumpyFixture.load(directory.appendingPathComponent(file))
            }
            let width = pixels.shape[1]
            let grids = try integers("image_grid_thw")
            var images: [ImagePatches] = []
            var row = 0
            for index in stride(from: 0, to: grids.count, by: 3) {
                let grid = PatchGrid(temporal: grids[index], height: grids[index + 1], width: grids[index + 2])
                let values = Array(pixels.floats[(row * width)..<((row + grid.patchCount) * width)])
                images.append(
                    ImagePatches(
                        values: values, patchDimension: width, grid: grid, resizedWidth: grid.width * 14,
                        resizedHeight: grid.height * 14, imageTokenCount: grid.patchCount / 4))
                row += grid.patchCount
            }
            #expect(row == pixels.shape[0], "the grids do not cover pixel_values")
            return images
        }

        func tower() throws -> (Qwen2VisionTower, WeightStore) {
            let config = try Qwen2VLConfig.load(directory: checkpoint)
            let store = try WeightStore(directory: checkpoint, renames: [.init("visual.", "model.visual.")])
            return (try Qwen2VisionTower(config: config, store: store, format: .bf16), store)
        }
    }

    static let cases = ["qwen2-vl-tiny", "qwen2.5-vl-tiny"].flatMap { model in
        ["one-image", "two-images"].map { Case(model: model, name: $0) }
    }

    /// max |actual − expected| / max |expected|.
    static func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
        precondition(actual.count == expected.count, "\(actual.count) values against \(expected.count)")
        let scale = expected.reduce(Float(0)) { max($0, abs($1)) }
        let worst = zip(actual, expected).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        return worst / max(scale, .leastNormalMagnitude)
    }

    @Test(arguments: cases)
    func intermediatesMatchTransformers(_ golden: Case) throws {
        let (tower, _) = try golden.tower()
        let images = try golden.images()
        var seen: [String: [Float]] = [:]
        let features = try tower.encode(images, pool: ComputePool(threadCount: 2)) { name, values in
            seen[name] = values
        }
        let patchEmbed = try golden.floats("vision_patch_embed")
        #expect(Self.relativeError(try #require(seen["patch_embed"]), patchEmbed.floats) < 1e-4)
        let blocks = try golden.floats("vision_blocks")  // [depth, patches, width]
        #expect(blocks.shape[0] == tower.blocks.count)
        let blockSize = blocks.shape[1] * blocks.shape[2]
        for index in 0..<blocks.shape[0] {
            let expected = Array(blocks.floats[(index * blockSize)..<((index + 1) * blockSize)])
            let error = Self.relativeError(try #require(seen["blocks.\(index)"]), expected)
            #expect(error < 1e-4, "block \(index): relative error \(error)")
        }
        let embeds = try golden.floats("image_embeds")
        let error = Self.relativeError(features, embeds.floats)
        #expect(error < 1e-4, "image_embeds: relative error \(error)")
    }

    @Test(arguments: cases.filter { $0.model == "qwen2.5-vl-tiny" })
    func windowLayoutMatchesTransformers(_ golden: Case) throws {
        let (tower, _) = try golden.tower()
        let grids = try golden.images().map(\.grid)
        let vision = tower.vision
        let windows = VisionWindows(
            grids: grids, mergeSize: vision.mergeSize,
            windowSide: vision.windowSize / vision.mergeSize / vision.patchSize)
        #expect(windows.mergeUnitOrder == (try golden.integers("vision_window_index")))
        #expect(windows.windowBoundaries == (try golden.integers("vision_cu_window_seqlens")))
        #expect(windows.frameBoundaries == (try golden.integers("vision_cu_seqlens")))
    }

    @Test(arguments: ["qwen2-vl-tiny", "qwen2.5-vl-tiny"])
    func imagesDoNotSeeEachOtherAndThreadsDoNotMatter(model: String) throws {
        let golden = Case(model: model, name: "two-images")
        let (tower, _) = try golden.tower()
        let images = try golden.images()
        let together = try tower.encode(images, pool: ComputePool(threadCount: 2))
        let apart = try images.flatMap { image throws(ModelError) in
            try tower.encode([image], pool: ComputePool(threadCount: 1))
        }
        #expect(Self.relativeError(apart, together) < 1e-6)
        #expect(try tower.encode(images, pool: ComputePool(threadCount: 1)) == together)
        #expect(try tower.encode(images, pool: ComputePool(threadCount: 3)) == together)
    }

    @Test(arguments: ["qwen2-vl-tiny", "qwen2.5-vl-tiny"])
    func theTowerUsesEveryVisualTensor(model: String) throws {
        let (_, store) = try Case(model: model, name: "one-image").tower()
        #expect {
            try store.finish()
        } throws: { error in
            // Only the text model's tensors are left over.
            guard case .unusedTensors(_, let tensors) = error as? ModelError else { return false }
            return !tensors.isEmpty && tensors.allSatisfy { !$0.hasPrefix("visual.") && !$0.hasPrefix("model.visual.") }
        }
    }
}
