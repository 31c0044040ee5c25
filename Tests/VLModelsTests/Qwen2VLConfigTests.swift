import Foundation
import Testing

@testable import VLModels

/// Writes `json` as config.json in a fresh directory and decodes it.
private func decode(_ json: String) throws -> Qwen2VLConfig {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlmodels-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try Data(json.utf8).write(to: directory.appendingPathComponent("config.json"))
    return try Qwen2VLConfig.load(directory: directory)
}

/// The flat form of Qwen2-VL-2B-Instruct's config.json on the Hub (text fields at the top level, rope_scaling, a
/// vision_config that leaves most fields to the class defaults).
private let qwen2VLHubConfig = """
    {"architectures": ["Qwen2VLForConditionalGeneration"], "attention_dropout": 0.0, "bos_token_id": 151643,
     "eos_token_id": 151645, "vision_start_token_id": 151652, "vision_end_token_id": 151653,
     "vision_token_id": 151654, "image_token_id": 151655, "video_token_id": 151656, "hidden_act": "silu",
     "hidden_size": 1536, "initializer_range": 0.02, "intermediate_size": 8960, "max_position_embeddings": 32768,
     "max_window_layers": 28, "model_type": "qwen2_vl", "num_attention_heads": 12, "num_hidden_layers": 28,
     "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
     "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.41.2", "use_cache": true,
     "use_sliding_window": false,
     "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                       "hidden_size": 1536, "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14,
                       "temporal_patch_size": 2},
     "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 151936}
    """

/// The nested form transformers 5 writes, for a small Qwen2.5-VL with an untied head.
private let qwen25VLNestedConfig = """
    {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl", "image_token_id": 780,
     "video_token_id": 781, "vision_start_token_id": 777, "vision_end_token_id": 778, "tie_word_embeddings": false,
     "text_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                     "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "vocab_size": 832, "model_type": "qwen2_5_vl_text",
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]}},
     "vision_config": {"depth": 3, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2, "out_hidden_size": 64,
                       "window_size": 112, "fullatt_block_indexes": [1], "patch_size": 14, "spatial_merge_size": 2,
                       "temporal_patch_size": 2, "in_channels": 3, "hidden_act": "silu"}}
    """

@Suite("Qwen2-VL / Qwen2.5-VL config.json")
struct Qwen2VLConfigTests {
    @Test("the Hub's flat Qwen2-VL-2B file, with the vision class defaults")
    func flatHubForm() throws {
        let config = try decode(qwen2VLHubConfig)
        #expect(config.family == .qwen2VL)
        #expect(config.text.hiddenSize == 1536 && config.text.layers == 28 && config.text.heads == 12)
        #expect(config.text.kvHeads == 2 && config.text.headDim == 128 && config.text.intermediateSize == 8960)
        #expect(config.text.mropeSection == [16, 24, 24] && config.text.ropeTheta == 1_000_000)
        #expect(config.text.tieWordEmbeddings && config.text.vocabularySize == 151_936)
        #expect(config.vision.width == 1280 && config.vision.depth == 32 && config.vision.headDim == 80)
        #expect(config.vision.intermediateSize == 5120 && config.vision.outputSize == 1536)
        #expect(config.vision.patchDimension == 1176)
        #expect(config.imageTokenID == 151_655 && config.visionStartTokenID == 151_652)
    }

    @Test("the nested transformers 5 form of Qwen2.5-VL")
    func nestedForm() throws {
        let config = try decode(qwen25VLNestedConfig)
        #expect(config.family == .qwen25VL)
        #expect(config.text.hiddenSize == 64 && config.text.mropeSection == [2, 3, 3])
        #expect(!config.text.tieWordEmbeddings)
        #expect(config.vision.width == 32 && config.vision.intermediateSize == 48 && config.vision.outputSize == 64)
        #expect(config.vision.windowSize == 112 && config.vision.fullAttentionBlocks == [1])
        #expect(config.imageTokenID == 780)
    }

    @Test(
        "invalid values are errors naming the key",
        arguments: [
            ("\"model_type\": \"qwen2_vl\"", "\"model_type\": \"llava\"", "model_type"),
            ("\"mrope_section\": [16, 24, 24]", "\"mrope_section\": [16, 24, 20]", "mrope_section"),
            ("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 5", "num_key_value_heads"),
            ("\"rms_norm_eps\": 1e-06,", "", "rms_norm_eps"),
            ("\"image_token_id\": 151655", "\"image_token_id\": 999999", "image_token_id"),
            ("\"hidden_size\": 1536, \"patch_size\"", "\"hidden_size\": 1024, \"patch_size\"", "vision_config"),
        ])
    func invalid(original: String, replacement: String, key: String) throws {
        #expect(qwen2VLHubConfig.contains(original))
        let json = qwen2VLHubConfig.replacingOccurrences(of: original, with: replacement)
        #expect {
            _ = try decode(json)
        } throws: { error in
            guard case .invalidConfigValue(_, let reportedKey, _) = error as? ModelError else { return false }
            return reportedKey.contains(key)
        }
    }
}
