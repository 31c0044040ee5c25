import Foundation
import Testing
import VLCore

@testable import VLModels

/// Whole models (Qwen2-VL, Qwen2.5-VL, Qwen3.5) against transformers 5.23 (fp32 compute from the bf16 weights) on
/// the tiny checkpoints of `Tests/Fixtures/models`: 3-D positions equal; embeddings, every layer's hidden state, the final
/// norm and the last logits within 1e-4 relative (max |a − b| / max |b| per tensor); then a cached greedy decode of 8
/// steps whose logits match the reference's step by step and whose tokens equal it wherever the reference's top-1 /
/// top-2 margin exceeds 1e-3.
@Suite struct ModelReferenceTests {
    typealias Case = Qwen2VisionTowerReferenceTests.Case

    static let cases = ["qwen2-vl-tiny", "qwen2.5-vl-tiny", "qwen3-vl-tiny", "qwen3.5-tiny"].flatMap { model in
        ["one-image", "two-images", "text-only"].map { Case(model: model, name: $0) }
    }

    static let tolerance: Float = 1e-4

    /// The prompt tokens and the image grids of a case.
    private func prompt(_ golden: Case) throws -> (tokens: [Int32], grids: [PatchGrid]) {
        let tokens = try golden.integers("input_ids").map { Int32($0) }
        guard FileManager.default.fileExists(atPath: golden.directory.appendingPathComponent("image_grid_thw.npy").path)
        else { return (tokens, []) }
        let grid = try golden.integers("image_grid_thw")
        let grids = stride(from: 0, to: grid.count, by: 3).map {
            PatchGrid(temporal: grid[$0], height: grid[$0 + 1], width: grid[$0 + 2])
        }
        return (tokens, grids)
    }

    /// Calls the check with the case's model, whichever family it is.
    private func withModel(_ golden: Case, _ check: (any ReferenceCheckable) throws -> Void) throws {
        switch try ModelType.read(directory: golden.checkpoint) {
        case "qwen3_5": try check(Qwen35Model(directory: golden.checkpoint, weights: .bf16))
        case "qwen3_vl": try check(Qwen3VLModel(directory: golden.checkpoint, weights: .bf16))
        default: try check(Qwen2VLModel(directory: golden.checkpoint, weights: .bf16))
        }
    }

    private func rows(_ array: (shape: [Int], floats: [Float]), _ index: Int) -> [Float] {
        let size = array.shape.dropFirst().reduce(1, *)
        return Array(array.floats[(index * size)..<((index + 1) * size)])
    }

    @Test(arguments: cases)
    func positionsMatchGetRopeIndex(_ golden: Case) throws {
        let (tokens, grids) = try prompt(golden)
        let imageTokenID = try withModelResult(golden) { $0.imageTokenID }
        let positions = try MultimodalPositions(tokens: tokens, imageTokenID: imageTokenID, grids: grids, mergeSize: 2)
        let expected = try golden.integers("position_ids")
        let count = tokens.count
        #expect(positions.temporal == Array(expected[0..<count]))
        #expect(positions.height == Array(expected[count..<(2 * count)]))
        #expect(positions.width == Array(expected[(2 * count)...]))
        #expect(positions.ropeDelta == (try golden.integers("rope_delta"))[0])
    }

    @Test(arguments: cases)
    func hiddenStatesAndLogitsMatch(_ golden: Case) throws {
        let (tokens, grids) = try prompt(golden)
        let features = try goldenFeatures(golden, hasImages: !grids.isEmpty)
        let hidden = try golden.floats("hidden_states")  // [layers + 1, T, d]
        let layers = hidden.shape[0] - 1
        try withModel(golden) { model in
            let result = try model.referenceRun(tokens, grids: grids, features: features)
            #expect(Self.relativeError(try #require(result.observed[-1]), rows(hidden, 0)) < Self.tolerance)
            for layer in 0..<(layers - 1) {
                let error = Self.relativeError(try #require(result.observed[layer]), rows(hidden, layer + 1))
                #expect(error < Self.tolerance, "layer \(layer)")
            }
            let lastLayer = try golden.floats("last_layer_output").floats
            #expect(Self.relativeError(result.last, lastLayer) < Self.tolerance)
            #expect(Self.relativeError(result.finalNormed, rows(hidden, layers)) < Self.tolerance)
            #expect(Self.relativeError(result.logits, try golden.floats("logits_last").floats) < Self.tolerance)
            #expect(result.length == tokens.count)
        }
    }

    @Test(arguments: cases)
    func cachedGreedyDecodeMatches(_ golden: Case) throws {
        let (tokens, grids) = try prompt(golden)
        let pool = ComputePool(threadCount: 2)
        let generated = try golden.integers("generated_ids").map { Int32($0) }
        let steps = try golden.floats("step_logits")
        let margins = try margins(golden)
        let images = grids.isEmpty ? [] : try golden.images()
        try withModel(golden) { model in
            let features =
                images.isEmpty
                ? VisualFeatures(merged: [], deepstack: []) : try model.encodeImages(images, pool: pool)
            var sequences = [model.makeSequence()]
            var logits = try model.prefill(
                tokens, grids: grids, imageFeatures: features, sequence: &sequences[0], pool: pool)
            for (step, token) in generated.enumerated() {
                let expected = rows(steps, step)
                #expect(Self.relativeError(logits, expected) < Self.tolerance, "step \(step)")
                if margins[step] > 1e-3 {
                    #expect(Int32(logits.indices.max { logits[$0] < logits[$1] }!) == token, "step \(step)")
                }
                logits = try model.decode([token], sequences: &sequences, pool: pool)
            }
        }
    }

    /// The reference's visual features: the merged rows and, for Qwen3-VL, its DeepStack taps.
    private func goldenFeatures(_ golden: Case, hasImages: Bool) throws -> VisualFeatures {
        guard hasImages else { return VisualFeatures(merged: [], deepstack: []) }
        let merged = try golden.floats("image_embeds").floats
        let file = golden.directory.appendingPathComponent("vision_deepstack.npy")
        guard FileManager.default.fileExists(atPath: file.path) else {
            return VisualFeatures(merged: merged, deepstack: [])
        }
        let deepstack = try golden.floats("vision_deepstack")  // [taps, tokens, width]
        return VisualFeatures(merged: merged, deepstack: (0..<deepstack.shape[0]).map { rows(deepstack, $0) })
    }

    private func withModelResult<Result>(_ golden: Case, _ body: (any ReferenceCheckable) throws -> Result) throws
        -> Result
    {
        var result: Result?
        try withModel(golden) { result = try body($0) }
        return result!
    }

    /// The reference's top-1 / top-2 logit margin at each greedy step (case.json).
    private func margins(_ golden: Case) throws -> [Double] {
        let object = try JSONSerialization.jsonObject(
            with: Data(contentsOf: golden.directory.appendingPathComponent("case.json")))
        let greedy = (object as? [String: Any])?["greedy"] as? [String: Any]
        return try #require(greedy?["top1_top2_margins"] as? [Double])
    }

    static func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
        Qwen2VisionTowerReferenceTests.relativeError(actual, expected)
    }
}

/// What the reference tests need from a model beyond `VisionLanguageModel`: a prompt run that exposes every layer.
protocol ReferenceCheckable: VisionLanguageModel {
    func referenceRun(_ tokens: [Int32], grids: [PatchGrid], features: VisualFeatures) throws -> ReferenceRun
}

/// One prompt run: the hidden state after each layer (−1: the embeddings), the last layer's output, its final norm,
/// the last logits and the sequence length afterwards.
struct ReferenceRun {
    var observed: [Int: [Float]]
    var last: [Float]
    var finalNormed: [Float]
    var logits: [Float]
    var length: Int
}

extension QwenModel: ReferenceCheckable {
    func referenceRun(_ tokens: [Int32], grids: [PatchGrid], features: VisualFeatures) throws -> ReferenceRun {
        var observed: [Int: [Float]] = [:]
        var sequence = makeSequence()
        let pool = ComputePool(threadCount: 2)
        let last = try prefillHidden(
            tokens, grids: grids, imageFeatures: features, sequence: &sequence, pool: pool
        ) { layer, hidden in observed[layer] = hidden }
        let d = text.ends.width
        return ReferenceRun(
            observed: observed, last: last, finalNormed: text.ends.finalNormalized(last),
            logits: text.ends.logits(Array(last[(last.count - d)...]), rows: 1, pool: pool), length: sequence.length)
    }
}

/// Qwen3.5's recurrent layers carry a prompt's state in a fixed-size DeltaNet state: running the prompt in one pass
/// must leave the same state, and give the same next-token logits, as feeding it one token at a time.
@Suite struct DeltaNetPrefillTests {
    @Test func promptInOnePassEqualsTokenByToken() throws {
        let checkpoint = Qwen2VisionTowerReferenceTests.models.appendingPathComponent("qwen3.5-tiny")
        let model = try Qwen35Model(directory: checkpoint, weights: .bf16)
        let tokens: [Int32] = [769, 271, 198, 305, 276, 302, 286, 285, 304, 13, 770, 198, 769, 272, 198]
        let pool = ComputePool(threadCount: 2)
        let none = VisualFeatures(merged: [], deepstack: [])
        var whole = model.makeSequence()
        let wholeLogits = try model.prefill(tokens, grids: [], imageFeatures: none, sequence: &whole, pool: pool)
        var steps = [model.makeSequence()]
        var stepLogits = try model.prefill([tokens[0]], grids: [], imageFeatures: none, sequence: &steps[0], pool: pool)
        for token in tokens.dropFirst() { stepLogits = try model.decode([token], sequences: &steps, pool: pool) }
        #expect(ModelReferenceTests.relativeError(stepLogits, wholeLogits) < 1e-5)
        let (a, b) = (whole.deltaNet, steps[0].deltaNet)
        for layer in a.recurrent.indices {
            #expect(ModelReferenceTests.relativeError(b.recurrent[layer], a.recurrent[layer]) < 1e-5)
            // The projections feeding the convolution come from the matrix multiply in one case and the matrix-vector
            // kernel in the other, which sum in different orders: close, not bit-equal.
            #expect(ModelReferenceTests.relativeError(b.convolution[layer], a.convolution[layer]) < 1e-5)
        }
        #expect(whole.length == tokens.count && steps[0].length == tokens.count)
        #expect(whole.deltaNet.byteCount == steps[0].deltaNet.byteCount)
    }
}

/// The other weight formats end to end: the text decoder in f16, q8 or q4 (prefill on the matrix multiply, decode on
/// the matrix-vector kernels, q8 / q4 with integer products) stays close to transformers' fp32 logits.
///
/// q8 and q4 are checked on qwen2-vl-tiny only: the random tiny Qwen3.5 is unusually sensitive to its weights (q8's
/// 0.5 % weight error moves its logits by 10–20 %), while the trained demo model, a Qwen3.5 too, gives the same
/// answers in every format (`GenerateCommandTests`).
@Suite struct QuantizedModelTests {
    static let cases: [(String, WeightFormat)] = [
        ("qwen2-vl-tiny", .f16), ("qwen2-vl-tiny", .q8), ("qwen2-vl-tiny", .q4), ("qwen3.5-tiny", .f16),
    ]

    @Test(arguments: cases)
    func logitsStayClose(model name: String, format: WeightFormat) throws {
        let golden = ModelReferenceTests.Case(model: name, name: "text-only")
        let tokens = try golden.integers("input_ids").map { Int32($0) }
        let expected = try golden.floats("step_logits")
        let generated = try golden.integers("generated_ids").map { Int32($0) }
        let model: any VisionLanguageModel =
            name.hasPrefix("qwen3.5")
            ? try Qwen35Model(directory: golden.checkpoint, weights: format)
            : try Qwen2VLModel(directory: golden.checkpoint, weights: format)
        let pool = ComputePool(threadCount: 2)
        var sequences = [model.makeSequence()]
        var logits = try model.prefill(
            tokens, grids: [], imageFeatures: VisualFeatures(merged: [], deepstack: []), sequence: &sequences[0],
            pool: pool)
        let width = expected.shape[1]
        // Measured: f16 ≈ 6e-6, q8 ≈ 2 %, q4 ≈ 22–29 % of the largest logit.
        let bound: Float = format == .f16 ? 1e-4 : format == .q8 ? 0.04 : 0.4
        for (step, token) in generated.prefix(3).enumerated() {
            let reference = Array(expected.floats[(step * width)..<((step + 1) * width)])
            let error = ModelReferenceTests.relativeError(logits, reference)
            #expect(error < bound, "step \(step): \(error)")
            logits = try model.decode([token], sequences: &sequences, pool: pool)
        }
    }
}
