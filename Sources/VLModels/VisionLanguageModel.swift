import Foundation
import VLCore

/// What one sequence has accumulated in the decoder: the KV cache of its attention layers, the DeltaNet state of a
/// hybrid model's linear-attention layers, and where its next token sits on the rotary axes.
public struct SequenceState: Sendable {
    /// Keys and values of every attention layer so far.
    public internal(set) var attention: AttentionCache
    /// Convolution and recurrent state of the Gated DeltaNet layers (empty for models without them).
    public internal(set) var deltaNet: DeltaNetState
    /// The position of the next token on every rotary axis (after an image, less than `length`).
    public internal(set) var nextPosition: Int

    /// Tokens the sequence holds.
    public var length: Int { attention.count }

    /// An empty sequence.
    public init(attention: AttentionCache, deltaNet: DeltaNetState = DeltaNetState()) {
        self.attention = attention
        self.deltaNet = deltaNet
        nextPosition = 0
    }

    /// Bytes of per-sequence state: the KV cache (grows with the sequence) plus the DeltaNet state (fixed).
    public var byteCount: Int { attention.byteCount + deltaNet.byteCount }
}

/// A loaded vision-language model as the generation engine drives it: encode images, run a prompt, then decode
/// steps for any number of sequences together.
public protocol VisionLanguageModel: Sendable {
    /// The checkpoint's `model_type`.
    var modelType: String { get }
    /// Logits per position.
    var vocabularySize: Int { get }
    /// `<|image_pad|>`, the token each visual feature replaces.
    var imageTokenID: Int32 { get }

    /// The visual features of `images` in order (`[Σ tokens, hiddenSize]`, plus DeepStack taps where the model has
    /// them); images do not see each other.
    func encodeImages(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> VisualFeatures

    /// A sequence with nothing in it yet.
    func makeSequence() -> SequenceState

    /// The bytes a sequence of `tokens` tokens holds: its KV cache plus any fixed (recurrent) state. The scheduler
    /// admits jobs against a memory budget with it.
    func stateBytes(tokens: Int) -> Int

    /// Runs rows `rows` of a prompt through the decoder, continuing `sequence` (which holds exactly the rows before
    /// them); returns the logits after the last of them. A prompt may run in one call or in consecutive chunks, with
    /// the same results either way (up to the order of sums in the linear layers' kernels).
    ///
    /// `imageFeatures` (from `encodeImages`) replace the image tokens in order; `grids` are the images' patch grids,
    /// which fix the tokens' rotary positions.
    func prefill(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: VisualFeatures, rows: Range<Int>,
        sequence: inout SequenceState, pool: ComputePool
    ) throws(ModelError) -> [Float]

    /// One decode step: appends `tokens[i]` to `sequences[i]` for every `i`, all in one pass over the weights;
    /// returns the next-token logits, `[sequences.count, vocabularySize]`.
    func decode(_ tokens: [Int32], sequences: inout [SequenceState], pool: ComputePool) throws(ModelError) -> [Float]
}

extension VisionLanguageModel {
    /// Runs a whole prompt through the decoder into the empty `sequence`; returns the logits of its last token.
    public func prefill(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: VisualFeatures, sequence: inout SequenceState,
        pool: ComputePool
    ) throws(ModelError) -> [Float] {
        try prefill(
            tokens, grids: grids, imageFeatures: imageFeatures, rows: 0..<tokens.count, sequence: &sequence, pool: pool)
    }
}

/// The model families vlbatch runs, keyed by `config.json`'s `model_type`.
public enum ModelRegistry {
    /// The `model_type` values `load` accepts.
    public static let supportedModelTypes = ["qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_5"]

    /// Loads the checkpoint in `directory` with its matrices in `weights`.
    ///
    /// - Throws: `ModelError.invalidConfigValue` naming the supported types when `model_type` is not one of them, and
    ///   the loaders' errors (missing, unused or mis-shaped tensors) otherwise.
    public static func load(directory: URL, weights: WeightFormat) throws(ModelError) -> any VisionLanguageModel {
        let modelType = try ModelType.read(directory: directory)
        switch modelType {
        case "qwen2_vl", "qwen2_5_vl":
            return try Qwen2VLModel(directory: directory, weights: weights)
        case "qwen3_vl":
            return try Qwen3VLModel(directory: directory, weights: weights)
        case "qwen3_5":
            return try Qwen35Model(directory: directory, weights: weights)
        default:
            throw .invalidConfigValue(
                path: directory.appendingPathComponent("config.json").path, key: "model_type",
                reason: "\"\(modelType)\" is not supported; supported: \(supportedModelTypes.joined(separator: ", "))")
        }
    }
}
