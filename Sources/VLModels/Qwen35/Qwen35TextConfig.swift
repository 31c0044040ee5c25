/// The `text_config` of a Qwen3.5 checkpoint (qwen-architecture.md §5.3, §7.3): a hybrid of Gated DeltaNet layers
/// and gated full-attention layers.
public struct Qwen35TextConfig: Sendable, Equatable {
    /// What mixes tokens in a layer.
    public enum LayerType: String, Sendable {
        /// Gated DeltaNet: a recurrent state per value head instead of a KV cache.
        case linearAttention = "linear_attention"
        /// Gated softmax attention with a KV cache.
        case fullAttention = "full_attention"
    }

    /// Model width.
    public var hiddenSize: Int
    /// Each layer's token mixer, in order.
    public var layerTypes: [LayerType]
    /// Attention query heads.
    public var heads: Int
    /// Attention key/value heads.
    public var kvHeads: Int
    /// Attention head width (256 in the released models, not hidden / heads).
    public var headDim: Int
    /// MLP width.
    public var intermediateSize: Int
    /// Rows of the embedding and of `lm_head`.
    public var vocabularySize: Int
    /// RMSNorm epsilon (also the gated norm's).
    public var rmsNormEpsilon: Float
    /// Rotary base.
    public var ropeTheta: Double
    /// Interleaved M-RoPE frequencies per axis; they sum to `rotaryDim / 2`.
    public var mropeSection: [Int]
    /// The rotated part of each attention head (`head_dim × partial_rotary_factor`).
    public var rotaryDim: Int
    /// Whether `lm_head` is the embedding matrix.
    public var tieWordEmbeddings: Bool
    /// DeltaNet query/key heads.
    public var linearKeyHeads: Int
    /// DeltaNet value heads (a multiple of the key heads; each key head serves a run of value heads).
    public var linearValueHeads: Int
    /// DeltaNet query/key head width.
    public var linearKeyDim: Int
    /// DeltaNet value head width.
    public var linearValueDim: Int
    /// Taps of the causal depthwise convolution.
    public var convKernel: Int

    /// Layers.
    public var layers: Int { layerTypes.count }
    /// Channels of the DeltaNet convolution: queries, keys and values.
    public var convChannels: Int { 2 * linearKeyHeads * linearKeyDim + linearValueHeads * linearValueDim }

    /// Decodes `text_config` (`object`); `tied` is the top-level `tie_word_embeddings` when present.
    static func decode(_ object: ConfigObject, tied: Bool?) throws(ModelError) -> Qwen35TextConfig {
        let layers = try object.int("num_hidden_layers")
        var types: [LayerType] = []
        if let names = try object.stringArray("layer_types") {
            for name in names {
                guard let type = LayerType(rawValue: name) else {
                    throw object.invalid("layer_types", "\"\(name)\" is neither linear_attention nor full_attention")
                }
                types.append(type)
            }
        } else {
            // transformers' rule when the list is absent: every `interval`-th layer is full attention.
            let interval = try object.int("full_attention_interval", default: 4)
            guard interval > 0 else { throw object.invalid("full_attention_interval", "must be positive") }
            types = (0..<layers).map { ($0 + 1) % interval == 0 ? .fullAttention : .linearAttention }
        }
        guard types.count == layers else {
            throw object.invalid("layer_types", "lists \(types.count) layers, num_hidden_layers is \(layers)")
        }
        guard let rope = try object.object("rope_parameters") else {
            throw object.invalid("rope_parameters", "is missing")
        }
        let heads = try object.int("num_attention_heads")
        let headDim = try object.int("head_dim", default: try object.int("hidden_size") / max(heads, 1))
        let partial = try rope.optionalDouble("partial_rotary_factor") ?? 1
        var tieWordEmbeddings = tied ?? false
        if tied == nil { tieWordEmbeddings = try object.bool("tie_word_embeddings", default: false) }
        let config = Qwen35TextConfig(
            hiddenSize: try object.int("hidden_size"), layerTypes: types, heads: heads,
            kvHeads: try object.int("num_key_value_heads"), headDim: headDim,
            intermediateSize: try object.int("intermediate_size"), vocabularySize: try object.int("vocab_size"),
            rmsNormEpsilon: Float(try object.double("rms_norm_eps")), ropeTheta: try rope.double("rope_theta"),
            mropeSection: try rope.intArray("mrope_section", default: [11, 11, 10]),
            rotaryDim: Int(Double(headDim) * partial),
            tieWordEmbeddings: tieWordEmbeddings,
            linearKeyHeads: try object.int("linear_num_key_heads"),
            linearValueHeads: try object.int("linear_num_value_heads"),
            linearKeyDim: try object.int("linear_key_head_dim"),
            linearValueDim: try object.int("linear_value_head_dim"),
            convKernel: try object.int("linear_conv_kernel_dim"))
        try config.validate(object)
        return config
    }

    private func validate(_ object: ConfigObject) throws(ModelError) {
        if hiddenSize <= 0 || intermediateSize <= 0 || vocabularySize <= 0 {
            throw object.invalid("hidden_size", "hidden_size, intermediate_size and vocab_size must be positive")
        }
        if heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 {
            throw object.invalid("num_key_value_heads", "must be positive and divide num_attention_heads")
        }
        if rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > headDim {
            throw object.invalid("rope_parameters.partial_rotary_factor", "gives a rotary width of \(rotaryDim)")
        }
        if mropeSection.count != 3 || mropeSection.reduce(0, +) != rotaryDim / 2
            || mropeSection.contains(where: { $0 < 0 })
        {
            throw object.invalid("rope_parameters.mrope_section", "must be three sizes summing to \(rotaryDim / 2)")
        }
        if linearKeyHeads <= 0 || linearValueHeads % linearKeyHeads != 0 || linearValueHeads <= 0 {
            throw object.invalid("linear_num_value_heads", "must be a positive multiple of linear_num_key_heads")
        }
        if linearKeyDim <= 0 || linearValueDim <= 0 || convKernel < 1 {
            throw object.invalid("linear_conv_kernel_dim", "DeltaNet head widths and the kernel must be positive")
        }
    }
}
