import Foundation
import VLCore

/// Qwen3-VL: the Qwen3-VL vision tower with DeepStack and the dense Qwen3 text decoder.
typealias Qwen3VLModel = QwenModel<Qwen3VisionTower, DenseTextDecoder>

extension QwenModel where Vision == Qwen3VisionTower, Text == DenseTextDecoder {
    /// Loads the checkpoint in `directory` (transformers 5's nested config; `model.language_model.*`,
    /// `model.visual.*` and `lm_head.*` tensors); text matrices in `weights`, the vision tower in bf16 for block
    /// formats.
    init(directory: URL, weights: WeightFormat) throws(ModelError) {
        let top = try ConfigObject.load(directory: directory)
        guard let textObject = try top.object("text_config") else { throw top.invalid("text_config", "is missing") }
        guard let visionObject = try top.object("vision_config") else {
            throw top.invalid("vision_config", "is missing")
        }
        let text = try Self.decodeText(textObject, top: top)
        let visionConfig = try Qwen3VisionConfig.decode(visionObject)
        guard visionConfig.outputSize == text.hiddenSize else {
            throw top.invalid("vision_config.out_hidden_size", "differs from text_config.hidden_size")
        }
        guard visionConfig.deepstackIndexes.count <= text.layers else {
            throw top.invalid("vision_config.deepstack_visual_indexes", "has more taps than the text model has layers")
        }
        let imageTokenID = try top.int("image_token_id")
        guard imageTokenID >= 0 && imageTokenID < text.vocabularySize else {
            throw top.invalid("image_token_id", "\(imageTokenID) is outside the vocabulary")
        }
        let store = try WeightStore(directory: directory, renames: [])
        let vision = try Qwen3VisionTower(
            config: visionConfig, store: store, format: weights)
        let decoder = try DenseTextDecoder(config: text, store: store, format: weights)
        try store.finish()
        self.init(modelType: "qwen3_vl", imageTokenID: Int32(imageTokenID), vision: vision, text: decoder)
    }

    /// Qwen3's `text_config`: explicit head width, q/k norms, interleaved M-RoPE, no attention biases by default.
    private static func decodeText(_ object: ConfigObject, top: ConfigObject) throws(ModelError) -> DenseTextConfig {
        guard let rope = try object.object("rope_parameters") else {
            throw object.invalid("rope_parameters", "is missing")
        }
        let (hidden, heads) = (try object.int("hidden_size"), try object.int("num_attention_heads"))
        let kvHeads = try object.int("num_key_value_heads")
        let headDim = try object.int("head_dim", default: hidden / max(heads, 1))
        let section = try rope.intArray("mrope_section", default: [24, 20, 20])
        var tied = try object.bool("tie_word_embeddings", default: false)
        if top.has("tie_word_embeddings") { tied = try top.bool("tie_word_embeddings", default: tied) }
        guard heads > 0, kvHeads > 0, heads % kvHeads == 0 else {
            throw object.invalid("num_key_value_heads", "must be positive and divide num_attention_heads")
        }
        guard headDim > 0, headDim % 2 == 0, section.count == 3, section.reduce(0, +) == headDim / 2 else {
            throw object.invalid("rope_parameters.mrope_section", "must be three sizes summing to head_dim / 2")
        }
        return DenseTextConfig(
            hiddenSize: hidden, layers: try object.int("num_hidden_layers"), heads: heads, kvHeads: kvHeads,
            headDim: headDim, intermediateSize: try object.int("intermediate_size"),
            vocabularySize: try object.int("vocab_size"), rmsNormEpsilon: Float(try object.double("rms_norm_eps")),
            ropeTheta: try rope.double("rope_theta"), mropeSection: section, ropeLayout: .interleaved,
            attentionBias: try object.bool("attention_bias", default: false), queryKeyNorm: true,
            tieWordEmbeddings: tied)
    }
}
