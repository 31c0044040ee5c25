import Foundation
import VLCore

/// A run of consecutive rows of one decoder pass that belong to one sequence.
public struct DecoderSegment: Sendable {
    /// Which of the sequences passed to the pass the rows extend.
    public var sequence: Int
    /// The rows, in the order of the sequence.
    public var rows: Range<Int>

    /// Rows `rows` extend sequence `sequence`.
    public init(sequence: Int, rows: Range<Int>) {
        self.sequence = sequence
        self.rows = rows
    }
}

/// A vision tower: images in, features for the text decoder out.
protocol VisionEncoder: Sendable {
    /// The patches merged into one visual token, per side.
    var mergeSize: Int { get }
    /// The features of `images`, in order.
    func encodeFeatures(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> VisualFeatures
}

/// A text decoder: embeddings in, hidden states out, each sequence's state extended in place.
protocol TextDecoder: Sendable {
    /// The embedding, final norm and head.
    var ends: EmbeddingAndHead { get }
    /// An empty sequence.
    func makeSequence() -> SequenceState
    /// Runs `hidden` (`[rows, width]`, the input embeddings) through every layer in place; segment `s` extends
    /// `sequences[s.sequence]`. `positions` gives each row's rotary position; `deepstack` (Qwen3-VL) adds visual
    /// features to the image rows after the first layers. `observe` sees the hidden state after each layer.
    func forward(
        _ hidden: inout [Float], positions: MultimodalPositionRows, segments: [DecoderSegment],
        sequences: inout [SequenceState], deepstack: DeepstackInjection?, pool: ComputePool,
        observe: ((Int, [Float]) -> Void)?
    )
}

/// Qwen3-VL's DeepStack features for one prompt: after decoder layer `i < layers.count`, `layers[i]` (one row per
/// image token, in order) is added to the hidden states of the image-token rows.
struct DeepstackInjection: Sendable {
    /// The hidden-state rows of the image tokens.
    let rows: [Int]
    /// Per layer, `[rows.count, width]`.
    let layers: [[Float]]

    /// `hidden[rows[k]] += layers[layer][k]` for every image row `k`.
    func add(layer: Int, to hidden: inout [Float], width: Int) {
        let features = layers[layer]
        for (k, row) in rows.enumerated() {
            for j in 0..<width { hidden[row * width + j] += features[k * width + j] }
        }
    }
}

/// A Qwen vision-language model: a vision tower, a text decoder and the glue between them — image features in place
/// of the image tokens, 3-D rotary positions (`get_rope_index`), prefill and batched decode.
struct QwenModel<Vision: VisionEncoder, Text: TextDecoder>: VisionLanguageModel {
    /// The checkpoint's `model_type`.
    public let modelType: String
    /// `<|image_pad|>`.
    public let imageTokenID: Int32
    /// The vision tower.
    public let vision: Vision
    /// The text decoder.
    public let text: Text

    /// The text vocabulary (rows of `lm_head`).
    public var vocabularySize: Int { text.ends.vocabulary }

    /// The vision tower over `images`; see `VisionLanguageModel.encodeImages`.
    public func encodeImages(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> VisualFeatures {
        try vision.encodeFeatures(images, pool: pool)
    }

    /// An empty sequence.
    public func makeSequence() -> SequenceState { text.makeSequence() }

    /// The KV cache of `tokens` tokens in every attention layer (fp32 keys and values) plus the fixed state.
    public func stateBytes(tokens: Int) -> Int {
        let empty = makeSequence()
        let kvPerToken = empty.attention.tokenWidth * 2 * MemoryLayout<Float>.size * empty.attention.layers
        return empty.byteCount + tokens * kvPerToken
    }

    /// Embeds the prompt, merges the image features, runs every layer; see `VisionLanguageModel.prefill`.
    public func prefill(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: VisualFeatures, sequence: inout SequenceState,
        pool: ComputePool
    ) throws(ModelError) -> [Float] {
        let hidden = try prefillHidden(
            tokens, grids: grids, imageFeatures: imageFeatures, sequence: &sequence, pool: pool)
        let d = text.ends.width
        return text.ends.logits(Array(hidden[(hidden.count - d)...]), rows: 1, pool: pool)
    }

    /// `prefill` up to the last layer's hidden states (`[tokens, width]`, before the final norm); `observe` sees the
    /// embeddings (layer −1) and each layer's output.
    func prefillHidden(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: VisualFeatures, sequence: inout SequenceState,
        pool: ComputePool, observe: ((Int, [Float]) -> Void)? = nil
    ) throws(ModelError) -> [Float] {
        guard !tokens.isEmpty else { throw .invalidInput(reason: "the prompt has no tokens") }
        guard sequence.length == 0 else { throw .invalidInput(reason: "prefill needs an empty sequence") }
        let positions = try MultimodalPositions(
            tokens: tokens, imageTokenID: imageTokenID, grids: grids, mergeSize: vision.mergeSize)
        var hidden = try text.ends.embed(tokens)
        let imageRows = tokens.indices.filter { tokens[$0] == imageTokenID }
        try merge(imageFeatures.merged, into: &hidden, rows: imageRows)
        observe?(-1, hidden)
        var rows = MultimodalPositionRows()
        rows.append(positions)
        // The sequence moves into a one-element batch and back, so its caches are never shared and grow in place.
        var batch = [makeSequence()]
        swap(&batch[0], &sequence)
        let deepstack =
            imageFeatures.deepstack.isEmpty ? nil : DeepstackInjection(rows: imageRows, layers: imageFeatures.deepstack)
        text.forward(
            &hidden, positions: rows, segments: [DecoderSegment(sequence: 0, rows: 0..<tokens.count)],
            sequences: &batch, deepstack: deepstack, pool: pool, observe: observe)
        swap(&batch[0], &sequence)
        sequence.nextPosition = positions.nextPosition
        return hidden
    }

    /// One batched decode step; see `VisionLanguageModel.decode`.
    public func decode(
        _ tokens: [Int32], sequences: inout [SequenceState], pool: ComputePool
    ) throws(ModelError) -> [Float] {
        precondition(tokens.count == sequences.count, "one token per sequence")
        guard !tokens.isEmpty else { return [] }
        var hidden = try text.ends.embed(tokens)
        var rows = MultimodalPositionRows()
        for sequence in sequences { rows.append(position: sequence.nextPosition) }
        text.forward(
            &hidden, positions: rows,
            segments: sequences.indices.map { DecoderSegment(sequence: $0, rows: $0..<($0 + 1)) },
            sequences: &sequences, deepstack: nil, pool: pool, observe: nil)
        for index in sequences.indices { sequences[index].nextPosition += 1 }
        return text.ends.logits(hidden, rows: tokens.count, pool: pool)
    }

    /// Overwrites the embedding rows of the image tokens with the visual features, in order.
    private func merge(_ features: [Float], into hidden: inout [Float], rows imageRows: [Int]) throws(ModelError) {
        let d = text.ends.width
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
