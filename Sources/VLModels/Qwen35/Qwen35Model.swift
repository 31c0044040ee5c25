import Foundation
import VLCore

/// Qwen3.5: the Qwen3-VL vision tower without DeepStack and the hybrid Gated DeltaNet text decoder.
typealias Qwen35Model = QwenModel<Qwen3VisionTower, Qwen35TextDecoder>

extension QwenModel where Vision == Qwen3VisionTower, Text == Qwen35TextDecoder {
    /// Loads the checkpoint in `directory`; text matrices in `weights`, the vision tower in bf16 for block formats.
    /// The multi-token-prediction head (`mtp.*`), which transformers ignores too, is not loaded.
    init(directory: URL, weights: WeightFormat) throws(ModelError) {
        let top = try ConfigObject.load(directory: directory)
        guard let textObject = try top.object("text_config") else { throw top.invalid("text_config", "is missing") }
        guard let visionObject = try top.object("vision_config") else {
            throw top.invalid("vision_config", "is missing")
        }
        let tied = top.has("tie_word_embeddings") ? try top.bool("tie_word_embeddings", default: false) : nil
        let textConfig = try Qwen35TextConfig.decode(textObject, tied: tied)
        // Qwen3.5's tower has no DeepStack whatever the file says (transformers' class has no DeepStack mergers).
        var visionConfig = try Qwen3VisionConfig.decode(visionObject)
        visionConfig.deepstackIndexes = []
        guard visionConfig.outputSize == textConfig.hiddenSize else {
            throw top.invalid("vision_config.out_hidden_size", "differs from text_config.hidden_size")
        }
        let imageTokenID = try top.int("image_token_id")
        guard imageTokenID >= 0 && imageTokenID < textConfig.vocabularySize else {
            throw top.invalid("image_token_id", "\(imageTokenID) is outside the vocabulary")
        }
        // Some re-uploads nest the tower under the language model.
        let store = try WeightStore(
            directory: directory, renames: [.init("model.language_model.visual.", "model.visual.")],
            ignoredPrefixes: ["mtp."])
        let vision = try Qwen3VisionTower(
            config: visionConfig, store: store, format: weights)
        let text = try Qwen35TextDecoder(config: textConfig, store: store, format: weights)
        try store.finish()
        self.init(modelType: "qwen3_5", imageTokenID: Int32(imageTokenID), vision: vision, text: text)
    }
}

extension Qwen3VisionTower: VisionEncoder {
    var mergeSize: Int { config.mergeSize }

    func encodeFeatures(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> VisualFeatures {
        try encode(images, pool: pool)
    }
}
