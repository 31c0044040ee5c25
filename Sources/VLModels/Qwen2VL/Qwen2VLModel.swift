import Foundation
import VLCore

/// Qwen2-VL or Qwen2.5-VL: the Qwen2 vision tower and the Qwen2 text decoder.
typealias Qwen2VLModel = QwenModel<Qwen2VisionTower, DenseTextDecoder>

extension QwenModel where Vision == Qwen2VisionTower, Text == DenseTextDecoder {
    /// The legacy tensor-name prefixes of Hub checkpoints and their transformers 5 spellings.
    static var legacyNames: [WeightStore.Rename] {
        [
            .init("model.layers.", "model.language_model.layers."),
            .init("model.embed_tokens.", "model.language_model.embed_tokens."),
            .init("model.norm.", "model.language_model.norm."),
            .init("visual.", "model.visual."),
        ]
    }

    /// Loads the checkpoint in `directory`; text matrices in `weights`, the vision tower in bf16 for block formats
    /// (its matrix multiply reads dense weights only) and in `weights` otherwise.
    init(directory: URL, weights: WeightFormat) throws(ModelError) {
        let config = try Qwen2VLConfig.load(directory: directory)
        let store = try WeightStore(directory: directory, renames: Self.legacyNames)
        let vision = try Qwen2VisionTower(
            config: config, store: store, format: weights)
        let text = try DenseTextDecoder(config: config.text, store: store, format: weights)
        try store.finish()
        self.init(modelType: config.family.rawValue, imageTokenID: config.imageTokenID, vision: vision, text: text)
    }
}

extension Qwen2VisionTower: VisionEncoder {
    var mergeSize: Int { vision.mergeSize }

    func encodeFeatures(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> VisualFeatures {
        VisualFeatures(merged: try encode(images, pool: pool), deepstack: [])
    }
}
