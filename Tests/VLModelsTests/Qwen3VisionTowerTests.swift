import Foundation
import TestSupport
import Testing
import VLCore

@testable import VLModels

/// The Qwen3-VL / Qwen3.5 vision tower: its config, the position-table interpolation by hand, and a small random
/// checkpoint for the input checks and the tensor names.
@Suite struct Qwen3VisionTowerTests {
    // MARK: - Position embedding

    @Test func interpolationWeighsTheFourCornersAsTransformersDoes() {
        // A 2×2 table [[a, b], [c, d]] with one channel, resampled to a 4×4 grid: ys = xs = linspace(0, 1, 4).
        let (a, b, c, d): (Float, Float, Float, Float) = (1, 10, 100, 1000)
        let embedding = VisionPositionEmbedding(table: [a, b, c, d], side: 2, width: 1)
        let taps = embedding.axisTaps(1, size: 4)
        #expect(taps.taps == (0, 1))
        #expect(taps.weights.0 == 1 - Float(1) / 3 && taps.weights.1 == 1 - (1 - Float(1) / 3))
        let values = embedding.embeddings(for: [PatchGrid(temporal: 1, height: 4, width: 4)], mergeSize: 2)
        // Merge-block order: block (0, 1) holds (0, 2) (0, 3) (1, 2) (1, 3), so index 6 is the patch at (1, 2):
        // dy = 1/3, dx = 2/3, pe = (2/9) a + (4/9) b + (1/9) c + (2/9) d = 2142 / 9 = 238.
        #expect(abs(values[6] - 238) < 1e-4)
        // The corners are the table's corners exactly: (0, 0) first, (0, 3) at 5, (3, 0) at 10, (3, 3) last.
        #expect(values[0] == a && values[5] == b && values[10] == c && values[15] == d)
    }

    @Test func aLinearTableIsReproducedAtEveryPatch() {
        // Bilinear resampling of P[y, x] = (10 y + x, y - 3 x) on a 5×5 table is that function at
        // y = r * 4 / (h - 1), x = c * 4 / (w - 1).
        let side = 5
        let table = (0..<(side * side)).flatMap { index -> [Float] in
            let (y, x) = (Float(index / side), Float(index % side))
            return [10 * y + x, y - 3 * x]
        }
        let embedding = VisionPositionEmbedding(table: table, side: side, width: 2)
        let grid = PatchGrid(temporal: 2, height: 6, width: 8)
        let values = embedding.embeddings(for: [grid], mergeSize: 2)
        #expect(values.count == grid.patchCount * 2)
        let frame = grid.frameCoordinates(mergeSize: 2)
        for (patch, (row, column)) in (frame + frame).enumerated() {
            let y = Double(row) * 4 / 5
            let x = Double(column) * 4 / 7
            #expect(abs(Double(values[2 * patch]) - (10 * y + x)) < 1e-4)
            #expect(abs(Double(values[2 * patch + 1]) - (y - 3 * x)) < 1e-4)
        }
    }

    @Test func aGridOfTheTableSizeReproducesTheTableExactly() {
        var random = SplitMix(state: 7)
        let (side, width) = (6, 5)
        let table = random.floats(side * side * width)
        let embedding = VisionPositionEmbedding(table: table, side: side, width: width)
        let grid = PatchGrid(temporal: 2, height: side, width: side)
        let values = embedding.embeddings(for: [grid], mergeSize: 2)
        let frame = grid.frameCoordinates(mergeSize: 2)
        let expected = (frame + frame).flatMap { row, column in
            table[((row * side + column) * width)..<((row * side + column + 1) * width)]
        }
        #expect(values == expected)
    }

    @Test func eachImageIsResampledToItsOwnGrid() {
        var random = SplitMix(state: 11)
        let embedding = VisionPositionEmbedding(table: random.floats(4 * 4 * 3), side: 4, width: 3)
        let grids = [PatchGrid(temporal: 1, height: 2, width: 6), PatchGrid(temporal: 1, height: 8, width: 4)]
        let together = embedding.embeddings(for: grids, mergeSize: 2)
        let apart = grids.flatMap { embedding.embeddings(for: [$0], mergeSize: 2) }
        #expect(together == apart)
    }

    // MARK: - Config

    static func object(_ json: String) throws -> ConfigObject {
        let values = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return ConfigObject(path: "config.json", keyPrefix: "vision_config.", values: values)
    }

    /// Qwen3-VL-2B-Instruct's vision_config (qwen-architecture.md §3.3).
    static let qwen3VL2B = """
        {"model_type": "qwen3_vl", "depth": 24, "hidden_size": 1024, "hidden_act": "gelu_pytorch_tanh",
         "intermediate_size": 4096, "num_heads": 16, "in_channels": 3, "patch_size": 16, "spatial_merge_size": 2,
         "temporal_patch_size": 2, "out_hidden_size": 2048, "num_position_embeddings": 2304,
         "deepstack_visual_indexes": [5, 11, 17], "initializer_range": 0.02}
        """

    @Test func decodesQwen3VL2B() throws {
        let config = try Qwen3VisionConfig.decode(try Self.object(Self.qwen3VL2B))
        #expect(config.depth == 24 && config.width == 1024 && config.heads == 16 && config.headDim == 64)
        #expect(config.intermediateSize == 4096 && config.outputSize == 2048 && config.patchDimension == 1536)
        #expect(config.positionEmbeddings == 2304 && config.positionSide == 48)
        #expect(config.deepstackIndexes == [5, 11, 17] && config.activation == .geluTanh && config.ropeTheta == 10_000)
    }

    @Test func aQwen35TowerHasNoDeepStackAndDefaultsFollowTransformers() throws {
        // Qwen3_5VisionModel builds no DeepStack mergers whatever the key says; missing keys take the class defaults.
        let config = try Qwen3VisionConfig.decode(
            try Self.object(#"{"model_type": "qwen3_5_vision", "deepstack_visual_indexes": [1]}"#))
        #expect(config.deepstackIndexes.isEmpty)
        #expect(config.depth == 27 && config.width == 1152 && config.heads == 16 && config.intermediateSize == 4304)
        #expect(config.outputSize == 3584 && config.positionEmbeddings == 2304 && config.patchSize == 16)
        let old = try Qwen3VisionConfig.decode(try Self.object(#"{"model_type": "qwen3_5", "depth": 12}"#))
        #expect(old.deepstackIndexes.isEmpty && old.depth == 12)
        let unnamed = try Qwen3VisionConfig.decode(try Self.object(#"{"rope_parameters": {"rope_theta": 500.0}}"#))
        #expect(unnamed.deepstackIndexes == [8, 16, 24] && unnamed.ropeTheta == 500)
    }

    @Test(
        arguments: [
            (#""num_heads": 16"#, #""num_heads": 12"#, "vision_config.num_heads"),
            (
                #""num_position_embeddings": 2304"#, #""num_position_embeddings": 2300"#,
                "vision_config.num_position_embeddings"
            ),
            (
                #""deepstack_visual_indexes": [5, 11, 17]"#, #""deepstack_visual_indexes": [5, 24]"#,
                "vision_config.deepstack_visual_indexes"
            ),
            (
                #""deepstack_visual_indexes": [5, 11, 17]"#, #""deepstack_visual_indexes": [5, 5]"#,
                "vision_config.deepstack_visual_indexes"
            ),
            (#""hidden_act": "gelu_pytorch_tanh""#, #""hidden_act": "relu""#, "vision_config.hidden_act"),
            (#""spatial_merge_size": 2"#, #""spatial_merge_size": 3"#, "vision_config.spatial_merge_size"),
            (#""patch_size": 16"#, #""patch_size": 0"#, "vision_config.patch_size"),
            (#""depth": 24"#, #""depth": "24""#, "vision_config.depth"),
            (#""initializer_range": 0.02"#, #""head_dim": 32"#, "vision_config.head_dim"),
            (
                #""initializer_range": 0.02"#, #""rope_parameters": {"rope_type": "yarn"}"#,
                "vision_config.rope_parameters.rope_type"
            ),
        ])
    func invalidValuesAreErrorsNamingTheKey(original: String, replacement: String, key: String) throws {
        let json = Self.qwen3VL2B.replacingOccurrences(of: original, with: replacement)
        #expect(json != Self.qwen3VL2B)
        #expect {
            try Qwen3VisionConfig.decode(try Self.object(json))
        } throws: { error in
            guard case .invalidConfigValue(_, let named, _) = error as? ModelError else { return false }
            return named == key
        }
    }

    // MARK: - A small random checkpoint

    /// 2 blocks, width 16 (2 heads of 8), MLP 24, patches 2×2×2 of 3 channels (24 columns), output 8, a 3×3 table.
    static func tinyConfig(deepstack: [Int]) -> Qwen3VisionConfig {
        Qwen3VisionConfig(
            depth: 2, width: 16, heads: 2, intermediateSize: 24, patchSize: 2, temporalPatchSize: 2, mergeSize: 2,
            inChannels: 3, outputSize: 8, positionEmbeddings: 9, deepstackIndexes: deepstack, activation: .geluTanh,
            ropeTheta: 10_000)
    }

    /// Every `model.visual.*` tensor `config` implies, F32, random, plus one text tensor the tower must leave alone.
    static func tinyCheckpoint(_ config: Qwen3VisionConfig) -> [UInt8] {
        var random = SplitMix(state: 3)
        var tensors: [SafeTensorsWriter.Tensor] = []
        func add(_ name: String, _ shape: [Int]) {
            let values = random.floats(shape.reduce(1, *), scale: 0.5)
            tensors.append(
                SafeTensorsWriter.Tensor(
                    name: name, dtype: "F32", shape: shape, data: SafeTensorsWriter.bytes(values.map(\.bitPattern))))
        }
        let (width, inner, merged) = (config.width, config.intermediateSize, config.width * 4)
        add("model.visual.patch_embed.proj.weight", [width, 3, 2, 2, 2])
        add("model.visual.patch_embed.proj.bias", [width])
        add("model.visual.pos_embed.weight", [config.positionEmbeddings, width])
        for block in 0..<config.depth {
            let name = "model.visual.blocks.\(block)"
            for norm in ["norm1", "norm2"] {
                add("\(name).\(norm).weight", [width])
                add("\(name).\(norm).bias", [width])
            }
            for (layer, outputs, inputs) in [
                ("attn.qkv", 3 * width, width), ("attn.proj", width, width), ("mlp.linear_fc1", inner, width),
                ("mlp.linear_fc2", width, inner),
            ] {
                add("\(name).\(layer).weight", [outputs, inputs])
                add("\(name).\(layer).bias", [outputs])
            }
        }
        let mergers = ["merger"] + config.deepstackIndexes.indices.map { "deepstack_merger_list.\($0)" }
        for (index, merger) in mergers.enumerated() {
            let normWidth = index == 0 ? width : merged
            add("model.visual.\(merger).norm.weight", [normWidth])
            add("model.visual.\(merger).norm.bias", [normWidth])
            add("model.visual.\(merger).linear_fc1.weight", [merged, merged])
            add("model.visual.\(merger).linear_fc1.bias", [merged])
            add("model.visual.\(merger).linear_fc2.weight", [config.outputSize, merged])
            add("model.visual.\(merger).linear_fc2.bias", [config.outputSize])
        }
        add("model.language_model.norm.weight", [config.outputSize])
        return SafeTensorsWriter.file(tensors)
    }

    /// Calls `body` with the tower of `config` over its random checkpoint, and the store it was loaded from.
    static func withTinyTower<Result>(
        _ config: Qwen3VisionConfig, _ body: (Qwen3VisionTower, WeightStore) throws -> Result
    ) throws -> Result {
        try SafeTensorsWriter.withDirectory(["model.safetensors": tinyCheckpoint(config)]) { path in
            let store = try WeightStore(directory: URL(fileURLWithPath: path), renames: [])
            return try body(try Qwen3VisionTower(config: config, store: store, format: .bf16), store)
        }
    }

    /// Random pixel rows for `grid`, 24 wide.
    static func patches(_ grid: PatchGrid) -> ImagePatches {
        var random = SplitMix(state: 1)
        return ImagePatches(
            values: random.floats(grid.patchCount * 24), patchDimension: 24, grid: grid,
            resizedWidth: grid.width * 2, resizedHeight: grid.height * 2, imageTokenCount: grid.patchCount / 4)
    }

    @Test(arguments: [[], [0], [1, 0]])
    func theTowerReadsEveryVisualTensorAndTapsTheListedBlocks(deepstack: [Int]) throws {
        let config = Self.tinyConfig(deepstack: deepstack)
        try Self.withTinyTower(config) { tower, store in
            #expect(tower.blocks.count == 2 && tower.deepstackMergers.count == deepstack.count)
            #expect {
                try store.finish()
            } throws: { error in
                guard case .unusedTensors(_, let tensors) = error as? ModelError else { return false }
                return tensors == ["model.language_model.norm.weight"]
            }
            let image = Self.patches(PatchGrid(temporal: 1, height: 4, width: 6))
            var names: [String] = []
            let features = try tower.encode([image], pool: ComputePool(threadCount: 2)) { name, _ in
                names.append(name)
            }
            #expect(features.merged.count == 6 * 8 && features.deepstack.count == deepstack.count)
            #expect(features.deepstack.allSatisfy { $0.count == 6 * 8 })
            // Taps come in block order, whatever order the config lists the blocks in.
            let taps = deepstack.indices.map { "deepstack.\($0)" }
            let tapsAfterBlock0 = deepstack.contains(0) ? [taps[0]] : []
            let tapsAfterBlock1 = deepstack.contains(1) ? [taps.last!] : []
            #expect(
                names == ["patch_embed", "pos_embed", "blocks.0"] + tapsAfterBlock0 + ["blocks.1"] + tapsAfterBlock1
                    + ["merger"])
        }
    }

    @Test func deepStackTapsUseTheMergerOfTheirPlaceInTheList() throws {
        // deepstack_visual_indexes [1, 0]: block 0's output goes through deepstack_merger_list.1 and comes first.
        try Self.withTinyTower(Self.tinyConfig(deepstack: [1, 0])) { tower, _ in
            let image = Self.patches(PatchGrid(temporal: 1, height: 2, width: 2))
            var blocks: [String: [Float]] = [:]
            let features = try tower.encode([image], pool: ComputePool(threadCount: 1)) { name, values in
                blocks[name] = values
            }
            let block0 = try #require(blocks["blocks.0"])
            let block1 = try #require(blocks["blocks.1"])
            let pool = ComputePool(threadCount: 1)
            #expect(
                features.deepstack[0]
                    == block0.withUnsafeBufferPointer { tower.deepstackMergers[1].apply($0, pool: pool) })
            #expect(
                features.deepstack[1]
                    == block1.withUnsafeBufferPointer { tower.deepstackMergers[0].apply($0, pool: pool) })
        }
    }

    /// The Qwen2 tower's bad images: their rows are 24 wide too, and both towers share the checks.
    @Test(arguments: Qwen2VisionTowerTests.badImages.keys.sorted())
    func rejectsImagesTheTowerCannotEncode(problem: String) throws {
        let image = try #require(Qwen2VisionTowerTests.badImages[problem])
        try #require(Qwen2VisionTowerTests.vision.patchDimension == 24)
        try Self.withTinyTower(Self.tinyConfig(deepstack: [0])) { tower, _ in
            let good = Self.patches(PatchGrid(temporal: 1, height: 2, width: 4))
            let pool = ComputePool(threadCount: 1)
            #expect(throws: Never.self) { try tower.encode([good], pool: pool) }
            #expect {
                try tower.encode([good, image], pool: pool)
            } throws: { error in
                guard case .invalidInput(let reason) = error as? ModelError else { return false }
                return reason.hasPrefix("image 1:")
            }
        }
    }

    @Test func noImagesGiveNoFeatures() throws {
        try Self.withTinyTower(Self.tinyConfig(deepstack: [0, 1])) { tower, _ in
            let features = try tower.encode([], pool: ComputePool(threadCount: 1))
            #expect(features.merged.isEmpty && features.deepstack == [[], []])
        }
    }
}

/// The tower against transformers 5.23 (fp32 compute from the bf16 weights) on the tiny checkpoints in
/// `Tests/Fixtures/models` (see its README and manifest.json): `qwen3-vl-tiny` (DeepStack after blocks 0 and 1, an
/// 8×8 position table) and `qwen3.5-tiny` (no DeepStack). The golden `pixel_values` and grids go in; the patch
/// embedding, every block's output, every DeepStack output and the merged features must match within 1e-4 relative
/// (max |a − b| / max |b| per tensor), and the resampled position table exactly.
///
/// Measured on x86-64 (identical with the AVX-512 and the scalar kernels), both families, both image cases:
/// patch_embed 1.2e-6 to 1.7e-6, block outputs 7.4e-7 to 1.3e-6, DeepStack outputs 7.4e-7 to 1.6e-6, image_embeds
/// 9.0e-7 to 1.1e-6, pos_embed bit for bit; so 1e-4 leaves a wide margin.
@Suite struct Qwen3VisionTowerReferenceTests {
    typealias Case = Qwen2VisionTowerReferenceTests.Case

    static let models = ["qwen3-vl-tiny", "qwen3.5-tiny"]
    static let cases = models.flatMap { model in ["one-image", "two-images"].map { Case(model: model, name: $0) } }

    /// The case's tower, from `vision_config` of its config.json, and the store it was loaded from.
    static func tower(_ golden: Case) throws -> (Qwen3VisionTower, WeightStore) {
        let top = try ConfigObject.load(directory: golden.checkpoint)
        let config = try Qwen3VisionConfig.decode(try #require(try top.object("vision_config")))
        let store = try WeightStore(directory: golden.checkpoint, renames: [])
        return (try Qwen3VisionTower(config: config, store: store, format: .bf16), store)
    }

    /// `[count, rest...]` → its `count` slices.
    static func slices(_ tensor: (shape: [Int], floats: [Float])) -> [[Float]] {
        let size = tensor.shape.dropFirst().reduce(1, *)
        return (0..<tensor.shape[0]).map { Array(tensor.floats[($0 * size)..<(($0 + 1) * size)]) }
    }

    @Test(arguments: cases)
    func intermediatesMatchTransformers(_ golden: Case) throws {
        let (tower, _) = try Self.tower(golden)
        var seen: [String: [Float]] = [:]
        let features = try tower.encode(try golden.images(), pool: ComputePool(threadCount: 2)) { name, values in
            seen[name] = values
        }
        let relativeError = Qwen2VisionTowerReferenceTests.relativeError
        var errors: [(String, Float)] = []
        let patchEmbed = try golden.floats("vision_patch_embed").floats
        errors.append(("patch_embed", relativeError(try #require(seen["patch_embed"]), patchEmbed)))
        // The resampled table is computed in transformers' order of fp32 operations: the same bits.
        #expect(try #require(seen["pos_embed"]) == (try golden.floats("vision_pos_embed").floats))
        let blocks = Self.slices(try golden.floats("vision_blocks"))  // [depth, patches, width]
        #expect(blocks.count == tower.blocks.count)
        for (index, expected) in blocks.enumerated() {
            errors.append(("blocks.\(index)", relativeError(try #require(seen["blocks.\(index)"]), expected)))
        }
        let deepstack = tower.config.deepstackIndexes.isEmpty ? [] : Self.slices(try golden.floats("vision_deepstack"))
        #expect(features.deepstack.count == deepstack.count)
        for (index, expected) in zip(features.deepstack.indices, deepstack) {
            errors.append(("deepstack.\(index)", relativeError(features.deepstack[index], expected)))
        }
        errors.append(("image_embeds", relativeError(features.merged, try golden.floats("image_embeds").floats)))
        for (name, error) in errors { #expect(error < 1e-4, "\(name): relative error \(error)") }
    }

    @Test(arguments: cases)
    func attentionSequencesAreTheImages(_ golden: Case) throws {
        let grids = try golden.images().map(\.grid)
        let windows = VisionWindows(grids: grids, mergeSize: 2, windowSide: nil)
        #expect(windows.frameBoundaries == (try golden.integers("vision_cu_seqlens")))
    }

    @Test(arguments: models)
    func imagesDoNotSeeEachOtherAndThreadsDoNotMatter(model: String) throws {
        let (tower, _) = try Self.tower(Case(model: model, name: "two-images"))
        let images = try Case(model: model, name: "two-images").images()
        let together = try tower.encode(images, pool: ComputePool(threadCount: 2))
        let apart = try images.map { image throws(ModelError) in
            try tower.encode([image], pool: ComputePool(threadCount: 1))
        }
        let relativeError = Qwen2VisionTowerReferenceTests.relativeError
        #expect(relativeError(apart.flatMap(\.merged), together.merged) < 1e-6)
        for tap in together.deepstack.indices {
            #expect(relativeError(apart.flatMap { $0.deepstack[tap] }, together.deepstack[tap]) < 1e-6)
        }
        for threads in [1, 3] {
            let features = try tower.encode(images, pool: ComputePool(threadCount: threads))
            #expect(features.merged == together.merged && features.deepstack == together.deepstack)
        }
    }

    @Test(arguments: models)
    func theTowerUsesEveryVisualTensor(model: String) throws {
        let (_, store) = try Self.tower(Case(model: model, name: "one-image"))
        #expect {
            try store.finish()
        } throws: { error in
            // Only the text model's tensors are left over.
            guard case .unusedTensors(_, let tensors) = error as? ModelError else { return false }
            return !tensors.isEmpty && tensors.allSatisfy { $0.hasPrefix("model.language_model.") }
        }
    }
}
