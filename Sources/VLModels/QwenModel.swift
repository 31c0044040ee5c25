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

    /// Embeds rows `rows` of the prompt, merges their image features, runs every layer; see
    /// `VisionLanguageModel.prefill(_:grids:imageFeatures:rows:sequence:pool:)`.
    public func prefill(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: VisualFeatures, rows: Range<Int>,
        sequence: inout SequenceState, pool: ComputePool
    ) throws(ModelError) -> [Float] {
        let hidden = try prefillHidden(
            tokens, grids: grids, imageFeatures: imageFeatures, rows: rows, sequence: &sequence, pool: pool)
        let d = text.ends.width
        return text.ends.logits(Array(hidden[(hidden.count - d)...]), rows: 1, pool: pool)
    }

    /// `prefill` of rows `rows` (the whole prompt by default) up to the last layer's hidden states (`[rows, width]`,
    /// before the final norm); `observe` sees the embeddings (layer −1) and each layer's output.
    func prefillHidden(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: VisualFeatures, rows chunk: Range<Int>? = nil,
        sequence: inout SequenceState, pool: ComputePool, observe: ((Int, [Float]) -> Void)? = nil
    ) throws(ModelError) -> [Float] {
        let chunk = chunk ?? 0..<tokens.count
        guard !chunk.isEmpty, chunk.lowerBound >= 0, chunk.upperBound <= tokens.count else {
            throw .invalidInput(reason: "prompt rows \(chunk) are empty or outside the \(tokens.count)-token prompt")
        }
        guard sequence.length == chunk.lowerBound else {
            throw .invalidInput(reason: "prompt rows \(chunk) do not continue a sequence of \(sequence.length) tokens")
        }
        let positions = try MultimodalPositions(
            tokens: tokens, imageTokenID: imageTokenID, grids: grids, mergeSize: vision.mergeSize)
        var hidden = try text.ends.embed(Array(tokens[chunk]))
        // The chunk's image tokens take the feature rows after those of the image tokens before it.
        let firstFeature = tokens[..<chunk.lowerBound].count { $0 == imageTokenID }
        let imageRows = chunk.filter { tokens[$0] == imageTokenID }.map { $0 - chunk.lowerBound }
        let features = firstFeature..<(firstFeature + imageRows.count)
        let d = text.ends.width
        func featureRows(_ values: [Float]) throws(ModelError) -> [Float] {
            guard values.count >= features.upperBound * d else {
                throw .invalidInput(
                    reason: "the prompt has more image tokens than the images gave features (\(values.count / d))")
            }
            return Array(values[(features.lowerBound * d)..<(features.upperBound * d)])
        }
        let totalImageTokens = tokens.count { $0 == imageTokenID }
        guard imageFeatures.merged.count == totalImageTokens * d else {
            throw .invalidInput(
                reason: "the prompt has \(totalImageTokens) image tokens but the images gave "
                    + "\(imageFeatures.merged.count / d) features")
        }
        merge(try featureRows(imageFeatures.merged), into: &hidden, rows: imageRows)
        observe?(-1, hidden)
        var rows = MultimodalPositionRows()
        rows.append(positions, range: chunk)
        // The sequence moves into a one-element batch and back, so its caches are never shared and grow in place.
        var batch = [makeSequence()]
        swap(&batch[0], &sequence)
        var deepstack: DeepstackInjection?
        if !imageFeatures.deepstack.isEmpty {
            var layers: [[Float]] = []
            for layer in imageFeatures.deepstack { layers.append(try featureRows(layer)) }
            deepstack = DeepstackInjection(rows: imageRows, layers: layers)
        }
        text.forward(
            &hidden, positions: rows, segments: [DecoderSegment(sequence: 0, rows: 0..<chunk.count)],
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

    /// Overwrites the embedding rows of the image tokens with the visual features, in order; `features` holds one row
    /// per entry of `imageRows` (`prefillHidden` checked the counts).
    private func merge(_ features: [Float], into hidden: inout [Float], rows imageRows: [Int]) {
        let d = text.ends.width
        for (feature, row) in imageRows.enumerated() {
            hidden.replaceSubrange((row * d)..<((row + 1) * d), with: features[(feature * d)..<((feature + 1) * d)])
        }
    }
}
