import Foundation
import VLCore

/// Qwen2-VL or Qwen2.5-VL: the vision tower, the Qwen2 text decoder and the glue between them (image features in
/// place of the image tokens, 3-D rotary positions).
public struct Qwen2VLModel: VisionLanguageModel {
    /// The checkpoint's config.
    public let config: Qwen2VLConfig
    /// The vision tower.
    public let vision: Qwen2VisionTower
    /// The text decoder.
    public let text: Qwen2TextDecoder

    /// The legacy tensor-name prefixes of Hub checkpoints and their transformers 5 spellings.
    static let legacyNames: [WeightStore.Rename] = [
        .init("model.layers.", "model.language_model.layers."),
        .init("model.embed_tokens.", "model.language_model.embed_tokens."),
        .init("model.norm.", "model.language_model.norm."),
        .init("visual.", "model.visual."),
    ]

    /// Loads the checkpoint in `directory`; text matrices in `weights`, the vision tower in bf16 for block formats
    /// (its matrix multiply reads dense weights only) and in `weights` otherwise.
    public init(directory: URL, weights: WeightFormat) throws(ModelError) {
        config = try Qwen2VLConfig.load(directory: directory)
        let store = try WeightStore(directory: directory, renames: Self.legacyNames)
        vision = try Qwen2VisionTower(
            config: config, store: store, format: weights.isBlockQuantized ? .bf16 : weights)
        text = try Qwen2TextDecoder(config: config.text, store: store, format: weights)
        try store.finish()
    }

    /// `qwen2_vl` or `qwen2_5_vl`.
    public var modelType: String { config.family.rawValue }
    /// The text vocabulary (rows of `lm_head`).
    public var vocabularySize: Int { config.text.vocabularySize }
    /// `<|image_pad|>`.
    public var imageTokenID: Int32 { config.imageTokenID }

    /// The vision tower over `images`; see `VisionLanguageModel.encodeImages`.
    public func encodeImages(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> [Float] {
        try vision.encode(images, pool: pool)
    }

    /// An empty sequence with an empty KV cache.
    public func makeSequence() -> SequenceState { SequenceState(attention: text.makeCache()) }

    /// Embeds the prompt, merges the image features, runs every layer; see `VisionLanguageModel.prefill`.
    public func prefill(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: [Float], sequence: inout SequenceState,
        pool: ComputePool
    ) throws(ModelError) -> [Float] {
        let hidden = try prefillHidden(
            tokens, grids: grids, imageFeatures: imageFeatures, sequence: &sequence, pool: pool)
        let d = config.text.hiddenSize
        return text.ends.logits(Array(hidden[(hidden.count - d)...]), rows: 1, pool: pool)
    }

    /// `prefill` up to the last layer's hidden states (`[tokens, hiddenSize]`, before the final norm); `observe`
    /// sees the embeddings (layer −1) and each layer's output.
    func prefillHidden(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: [Float], sequence: inout SequenceState,
        pool: ComputePool, observe: ((Int, [Float]) -> Void)? = nil
    ) throws(ModelError) -> [Float] {
        guard !tokens.isEmpty else { throw .invalidInput(reason: "the prompt has no tokens") }
        guard sequence.length == 0 else { throw .invalidInput(reason: "prefill needs an empty sequence") }
        let positions = try MultimodalPositions(
            tokens: tokens, imageTokenID: config.imageTokenID, grids: grids, mergeSize: config.vision.mergeSize)
        var hidden = try text.embed(tokens)
        try mergeImageFeatures(imageFeatures, into: &hidden, tokens: tokens)
        observe?(-1, hidden)
        var rows = MultimodalPositionRows()
        rows.append(positions)
        var caches = [sequence.takeAttention()]
        text.forward(
            &hidden, positions: rows, segments: [.init(cache: 0, rows: 0..<tokens.count)], caches: &caches, pool: pool,
            observe: observe)
        sequence.attention = caches[0]
        sequence.nextPosition = positions.nextPosition
        return hidden
    }

    /// One batched decode step; see `VisionLanguageModel.decode`.
    public func decode(
        _ tokens: [Int32], sequences: inout [SequenceState], pool: ComputePool
    ) throws(ModelError) -> [Float] {
        precondition(tokens.count == sequences.count, "one token per sequence")
        guard !tokens.isEmpty else { return [] }
        var hidden = try text.embed(tokens)
        var rows = MultimodalPositionRows()
        for sequence in sequences { rows.append(position: sequence.nextPosition) }
        var caches = sequences.indices.map { sequences[$0].takeAttention() }
        text.forward(
            &hidden, positions: rows, segments: caches.indices.map { .init(cache: $0, rows: $0..<($0 + 1)) },
            caches: &caches, pool: pool)
        for index in sequences.indices {
            sequences[index].attention = caches[index]
            sequences[index].nextPosition += 1
        }
        return text.ends.logits(hidden, rows: tokens.count, pool: pool)
    }

    /// Overwrites the embedding rows of the image tokens with the visual features, in order.
    private func mergeImageFeatures(_ features: [Float], into hidden: inout [Float], tokens: [Int32]) throws(ModelError)
    {
        let d = config.text.hiddenSize
        let imageRows = tokens.indices.filter { tokens[$0] == config.imageTokenID }
        guard features.count == imageRows.count * d else {
            throw .invalidInput(
                reason:
                    "the prompt has \(imageRows.count) image tokens but the images gave \(features.count / d) features")
        }
        for (feature, row) in imageRows.enumerated() {
            hidden.replaceSubrange((row * d)..<((row + 1) * d), with: features[(feature * d)..<((feature + 1) * d)])
        }
    }
}
