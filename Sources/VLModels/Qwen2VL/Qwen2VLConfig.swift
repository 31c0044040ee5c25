import Foundation

/// The `config.json` of a Qwen2-VL or Qwen2.5-VL checkpoint, in either form: the flat one on the Hub (text fields at
/// the top level, `rope_scaling.mrope_section`) or the nested one transformers 5 writes (`text_config`,
/// `rope_parameters`). Fields the Hub files leave to transformers' class defaults get those defaults.
public struct Qwen2VLConfig: Sendable, Equatable {
    /// Which of the two generations.
    public enum Family: String, Sendable {
        case qwen2VL = "qwen2_vl"
        case qwen25VL = "qwen2_5_vl"
    }

    /// The text decoder (Qwen2 architecture, qwen-architecture.md §5.1).
    public typealias Text = DenseTextConfig

    /// The vision tower (§3.1, §3.2).
    public struct Vision: Sendable, Equatable {
        /// Blocks.
        public var depth: Int
        /// Tower width (`embed_dim` in Qwen2-VL).
        public var width: Int
        /// Query heads.
        public var heads: Int
        /// MLP width.
        public var intermediateSize: Int
        /// Patch side in pixels.
        public var patchSize: Int
        /// Frames per patch (2; an image is repeated).
        public var temporalPatchSize: Int
        /// Patches merged per side into one token.
        public var mergeSize: Int
        /// Image channels (3).
        public var inChannels: Int
        /// The merger's output width (the text model's hidden size).
        public var outputSize: Int
        /// Qwen2.5-VL: the attention window side in pixels (112) and the blocks that attend to the whole image.
        public var windowSize: Int
        /// Blocks that attend to the whole image (Qwen2.5-VL).
        public var fullAttentionBlocks: [Int]

        /// Width of one attention head.
        public var headDim: Int { width / heads }
        /// Width of a row of `pixel_values`.
        public var patchDimension: Int { inChannels * temporalPatchSize * patchSize * patchSize }
    }

    /// Qwen2-VL or Qwen2.5-VL.
    public var family: Family
    /// The text decoder.
    public var text: Text
    /// The vision tower.
    public var vision: Vision
    /// `<|image_pad|>`.
    public var imageTokenID: Int32
    /// `<|vision_start|>`.
    public var visionStartTokenID: Int32

    /// Reads `config.json` in `directory`.
    public static func load(directory: URL) throws(ModelError) -> Qwen2VLConfig {
        try decode(try ConfigObject.load(directory: directory))
    }

    static func decode(_ top: ConfigObject) throws(ModelError) -> Qwen2VLConfig {
        let modelType = try top.string("model_type", default: "")
        guard let family = Family(rawValue: modelType) else {
            throw top.invalid("model_type", "\"\(modelType)\" is not qwen2_vl or qwen2_5_vl")
        }
        // transformers 5 nests the text fields; the Hub's flat files keep them at the top level.
        let nestedText = try top.object("text_config")
        let textObject = nestedText ?? top
        let text = try decodeText(textObject, top: top)
        guard let visionObject = try top.object("vision_config") else {
            throw top.invalid("vision_config", "is missing")
        }
        let vision = try decodeVision(visionObject, family: family, textHidden: text.hiddenSize)
        let config = Qwen2VLConfig(
            family: family, text: text, vision: vision,
            imageTokenID: Int32(try tokenID("image_token_id", top, textObject)),
            visionStartTokenID: Int32(try tokenID("vision_start_token_id", top, textObject)))
        try config.validate(top)
        return config
    }

    /// A special-token id, at the top level or (older nested files) in `text_config`.
    private static func tokenID(_ key: String, _ top: ConfigObject, _ text: ConfigObject) throws(ModelError) -> Int {
        if let id = try top.optionalInt(key) { return id }
        return try text.int(key)
    }

    private static func decodeText(_ object: ConfigObject, top: ConfigObject) throws(ModelError) -> Text {
        // transformers 5 writes rope_parameters; the Hub files have rope_scaling plus a top-level rope_theta.
        var rope = try object.object("rope_parameters")
        if rope == nil { rope = try object.object("rope_scaling") }
        var theta = try rope?.optionalDouble("rope_theta")
        if theta == nil { theta = try object.optionalDouble("rope_theta") }
        guard let section = try rope?.intArray("mrope_section", default: []), section.count == 3 else {
            throw object.invalid("rope_parameters.mrope_section", "must list three section sizes")
        }
        let (hidden, heads) = (try object.int("hidden_size"), try object.int("num_attention_heads"))
        return Text(
            hiddenSize: hidden, layers: try object.int("num_hidden_layers"),
            heads: heads, kvHeads: try object.int("num_key_value_heads"), headDim: hidden / max(heads, 1),
            intermediateSize: try object.int("intermediate_size"), vocabularySize: try object.int("vocab_size"),
            rmsNormEpsilon: Float(try object.double("rms_norm_eps")), ropeTheta: theta ?? 1_000_000,
            mropeSection: section, ropeLayout: .chunked, attentionBias: true, queryKeyNorm: false,
            // The flag lives at the top level in both forms; transformers 5 repeats it in text_config.
            tieWordEmbeddings: try top.bool(
                "tie_word_embeddings", default: try object.bool("tie_word_embeddings", default: false)))
    }

    private static func decodeVision(
        _ object: ConfigObject, family: Family, textHidden: Int
    ) throws(ModelError) -> Vision {
        switch family {
        case .qwen2VL:
            // Qwen2VisionConfig: embed_dim is the tower's width, hidden_size the merger's output.
            let width = try object.int("embed_dim", default: 1280)
            return Vision(
                depth: try object.int("depth", default: 32), width: width,
                heads: try object.int("num_heads", default: 16),
                intermediateSize: width * (try object.int("mlp_ratio", default: 4)),
                patchSize: try object.int("patch_size", default: 14),
                temporalPatchSize: try object.int("temporal_patch_size", default: 2),
                mergeSize: try object.int("spatial_merge_size", default: 2),
                inChannels: try inChannels(object),
                outputSize: try object.int("hidden_size", default: textHidden), windowSize: 0, fullAttentionBlocks: [])
        case .qwen25VL:
            return Vision(
                depth: try object.int("depth", default: 32), width: try object.int("hidden_size", default: 1280),
                heads: try object.int("num_heads", default: 16),
                intermediateSize: try object.int("intermediate_size", default: 3420),
                patchSize: try object.int("patch_size", default: 14),
                temporalPatchSize: try object.int("temporal_patch_size", default: 2),
                mergeSize: try object.int("spatial_merge_size", default: 2),
                inChannels: try inChannels(object),
                outputSize: try object.int("out_hidden_size", default: textHidden),
                windowSize: try object.int("window_size", default: 112),
                fullAttentionBlocks: try object.intArray("fullatt_block_indexes", default: [7, 15, 23, 31]))
        }
    }

    /// `in_channels` (transformers 5) or `in_chans` (older files).
    private static func inChannels(_ object: ConfigObject) throws(ModelError) -> Int {
        if let channels = try object.optionalInt("in_channels") { return channels }
        return try object.int("in_chans", default: 3)
    }

    /// Rejects values the model cannot run with, naming the key.
    private func validate(_ top: ConfigObject) throws(ModelError) {
        let textKey = top.has("text_config") ? "text_config." : ""
        func invalid(_ key: String, _ reason: String) -> ModelError { top.invalid(key, reason) }
        if text.hiddenSize <= 0 || text.heads <= 0 || text.hiddenSize % text.heads != 0 {
            throw invalid(textKey + "hidden_size", "must be a positive multiple of num_attention_heads")
        }
        if text.kvHeads <= 0 || text.heads % text.kvHeads != 0 {
            throw invalid(textKey + "num_key_value_heads", "must divide num_attention_heads")
        }
        if text.headDim % 2 != 0 || text.mropeSection.reduce(0, +) != text.headDim / 2
            || text.mropeSection.contains(where: { $0 < 0 })
        {
            throw invalid(textKey + "mrope_section", "must sum to head_dim / 2 = \(text.headDim / 2)")
        }
        if text.layers < 0 || text.intermediateSize <= 0 || text.vocabularySize <= 0 {
            throw invalid(textKey + "num_hidden_layers", "layers, intermediate_size and vocab_size must be positive")
        }
        if vision.width <= 0 || vision.heads <= 0 || vision.width % vision.heads != 0 || vision.headDim % 4 != 0 {
            throw invalid("vision_config.num_heads", "the head width must be a positive multiple of 4")
        }
        if vision.mergeSize != 2 || vision.patchSize <= 0 || vision.temporalPatchSize <= 0 {
            throw invalid("vision_config.spatial_merge_size", "only 2x2 merging with positive patch sizes is supported")
        }
        if vision.outputSize != text.hiddenSize {
            throw invalid("vision_config", "the merger's output width \(vision.outputSize) differs from hidden_size")
        }
        if family == .qwen25VL {
            let unit = vision.patchSize * vision.mergeSize
            if vision.windowSize < unit || vision.windowSize % unit != 0 {
                throw invalid("vision_config.window_size", "must be a positive multiple of \(unit)")
            }
            if let bad = vision.fullAttentionBlocks.first(where: { $0 < 0 || $0 >= vision.depth }) {
                throw invalid("vision_config.fullatt_block_indexes", "block \(bad) is outside 0..<\(vision.depth)")
            }
        }
        if imageTokenID < 0 || imageTokenID >= text.vocabularySize {
            throw invalid("image_token_id", "\(imageTokenID) is outside the vocabulary")
        }
    }
}
