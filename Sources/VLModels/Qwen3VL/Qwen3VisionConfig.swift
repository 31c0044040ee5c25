import VLCore

/// The `vision_config` of a Qwen3-VL (`qwen3_vl`) or Qwen3.5 (`qwen3_5`) checkpoint, as transformers 5 nests it.
///
/// Mirrors `Qwen3VLVisionConfig` (configuration_qwen3_vl.py) and `Qwen3_5VisionConfig` (configuration_qwen3_5.py),
/// with their class defaults for keys a file leaves out; qwen-architecture.md §3.3, §3.4.
public struct Qwen3VisionConfig: Sendable, Equatable {
    /// Blocks (`depth`).
    public var depth: Int
    /// Tower width (`hidden_size`).
    public var width: Int
    /// Attention heads (`num_heads`).
    public var heads: Int
    /// MLP width (`intermediate_size`).
    public var intermediateSize: Int
    /// Patch side in pixels (`patch_size`).
    public var patchSize: Int
    /// Frames per patch (`temporal_patch_size`, 2; an image is repeated).
    public var temporalPatchSize: Int
    /// Patches merged per side into one token (`spatial_merge_size`).
    public var mergeSize: Int
    /// Image channels (`in_channels`).
    public var inChannels: Int
    /// The mergers' output width, the text model's hidden size (`out_hidden_size`).
    public var outputSize: Int
    /// Rows of the learned position table (`num_position_embeddings`), a square number: the table is
    /// `√n × √n`.
    public var positionEmbeddings: Int
    /// Blocks whose output feeds a DeepStack merger, in `deepstack_merger_list` order (`deepstack_visual_indexes`;
    /// empty for Qwen3.5, whose tower has no DeepStack).
    public var deepstackIndexes: [Int]
    /// The block MLP's activation (`hidden_act`, `gelu_pytorch_tanh` in every released checkpoint).
    public var activation: Kernels.Activation
    /// The 2-D rotary base (`rope_parameters.rope_theta`, transformers' default 10000).
    public var ropeTheta: Float

    /// Width of one attention head.
    public var headDim: Int { width / heads }
    /// Width of a row of `pixel_values`.
    public var patchDimension: Int { inChannels * temporalPatchSize * patchSize * patchSize }
    /// Side of the learned position table.
    public var positionSide: Int { Int(Double(positionEmbeddings).squareRoot().rounded()) }

    /// The `hidden_act` names transformers' `ACT2FN` maps to the activations the kernels compute.
    static let activations: [String: Kernels.Activation] = [
        "gelu_pytorch_tanh": .geluTanh, "gelu": .geluErf, "quick_gelu": .quickGelu, "silu": .silu,
    ]

    /// Decodes the `vision_config` object `object`; errors name the offending key.
    ///
    /// Whether the tower has DeepStack follows the object's `model_type`, as transformers picks the class: a Qwen3.5
    /// one (`qwen3_5_vision`, or `qwen3_5` in older files) has none, whatever `deepstack_visual_indexes` says;
    /// otherwise (`qwen3_vl_vision`, `qwen3_vl`, or no `model_type`) the key applies, default `[8, 16, 24]`.
    static func decode(_ object: ConfigObject) throws(ModelError) -> Qwen3VisionConfig {
        let modelType = try object.string("model_type", default: "")
        let deepstack =
            modelType.hasPrefix("qwen3_5")
            ? [] : try object.intArray("deepstack_visual_indexes", default: [8, 16, 24])
        let actName = try object.string("hidden_act", default: "gelu_pytorch_tanh")
        guard let activation = activations[actName] else {
            throw object.invalid(
                "hidden_act", "\"\(actName)\" is not one of \(activations.keys.sorted().joined(separator: ", "))")
        }
        // transformers' attribute_map lets a file say num_attention_heads / num_hidden_layers instead.
        let heads = try object.int("num_heads", default: try object.int("num_attention_heads", default: 16))
        let depth = try object.int("depth", default: try object.int("num_hidden_layers", default: 27))
        let config = Qwen3VisionConfig(
            depth: depth, width: try object.int("hidden_size", default: 1152), heads: heads,
            intermediateSize: try object.int("intermediate_size", default: 4304),
            patchSize: try object.int("patch_size", default: 16),
            temporalPatchSize: try object.int("temporal_patch_size", default: 2),
            mergeSize: try object.int("spatial_merge_size", default: 2),
            inChannels: try object.int("in_channels", default: 3),
            outputSize: try object.int("out_hidden_size", default: 3584),
            positionEmbeddings: try object.int("num_position_embeddings", default: 2304), deepstackIndexes: deepstack,
            activation: activation, ropeTheta: try ropeTheta(object))
        try config.validate(object)
        return config
    }

    /// `rope_parameters.rope_theta`, else a top-level `rope_theta`, else 10000 (`RotaryEmbeddingConfigMixin`); the
    /// rope type must be the axial one the vision rotary embedding accepts.
    private static func ropeTheta(_ object: ConfigObject) throws(ModelError) -> Float {
        let rope = try object.object("rope_parameters")
        let type = try rope?.string("rope_type", default: "default") ?? "default"
        guard type == "default" || type == "axial" else {
            throw object.invalid("rope_parameters.rope_type", "\"\(type)\": the vision rotary embedding is axial only")
        }
        var stated = try rope?.optionalDouble("rope_theta")
        if stated == nil { stated = try object.optionalDouble("rope_theta") }
        let theta = stated ?? 10_000
        guard theta > 0 else { throw object.invalid("rope_parameters.rope_theta", "must be positive") }
        return Float(theta)
    }

    /// Rejects values the tower cannot run with, naming the key.
    private func validate(_ object: ConfigObject) throws(ModelError) {
        if depth < 1 { throw object.invalid("depth", "must be positive") }
        if width <= 0 || heads <= 0 || width % heads != 0 || headDim % 4 != 0 {
            throw object.invalid("num_heads", "hidden_size / num_heads must be a positive multiple of 4")
        }
        if let stated = try object.optionalInt("head_dim"), stated != headDim {
            throw object.invalid("head_dim", "is \(stated), but hidden_size / num_heads is \(headDim)")
        }
        if intermediateSize <= 0 { throw object.invalid("intermediate_size", "must be positive") }
        if patchSize <= 0 { throw object.invalid("patch_size", "must be positive") }
        if temporalPatchSize <= 0 { throw object.invalid("temporal_patch_size", "must be positive") }
        if inChannels <= 0 { throw object.invalid("in_channels", "must be positive") }
        if mergeSize != 2 { throw object.invalid("spatial_merge_size", "only 2x2 merging is supported") }
        if outputSize <= 0 { throw object.invalid("out_hidden_size", "must be positive") }
        if positionEmbeddings <= 0 || positionSide * positionSide != positionEmbeddings {
            throw object.invalid(
                "num_position_embeddings", "\(positionEmbeddings) is not a square number (the table is side x side)")
        }
        if let bad = deepstackIndexes.first(where: { $0 < 0 || $0 >= depth }) {
            throw object.invalid("deepstack_visual_indexes", "block \(bad) is outside 0..<\(depth)")
        }
        if Set(deepstackIndexes).count != deepstackIndexes.count {
            throw object.invalid("deepstack_visual_indexes", "lists a block twice")
        }
    }
}
