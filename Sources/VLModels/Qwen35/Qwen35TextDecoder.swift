import VLCore

/// The Qwen3.5 text decoder (qwen-architecture.md §5.3): per layer a zero-centred RMSNorm, a token mixer (Gated
/// DeltaNet or gated attention, by `layer_types`), a residual, a zero-centred RMSNorm, a SwiGLU MLP and a residual;
/// then the final zero-centred norm and `lm_head`.
///
/// As in `DenseTextDecoder`, one `forward` call runs a prompt or a batched decode step: the linear layers see all
/// rows, the convolution, recurrence and attention run per sequence.
public struct Qwen35TextDecoder: TextDecoder {
    enum Mixer: Sendable {
        case deltaNet(GatedDeltaNet, index: Int)
        case attention(GatedAttention, index: Int)
    }

    struct Layer: Sendable {
        let inputNorm: RMSNorm
        let mixer: Mixer
        let feedForward: FeedForwardBlock
    }

    /// The decoder's shape.
    public let config: Qwen35TextConfig
    /// The embedding, final norm and head.
    let ends: EmbeddingAndHead
    let layers: [Layer]
    let rotary: MultimodalRotary

    /// Loads `model.language_model.*` (and `lm_head.weight` unless tied) with matrices in `format`.
    public init(config: Qwen35TextConfig, store: WeightStore, format: WeightFormat) throws(ModelError) {
        self.config = config
        let prefix = "model.language_model."
        let (d, eps) = (config.hiddenSize, config.rmsNormEpsilon)
        ends = try EmbeddingAndHead(
            prefix + "embed_tokens.weight", from: store, vocabulary: config.vocabularySize, width: d,
            tied: config.tieWordEmbeddings,
            finalNorm: try RMSNorm(prefix + "norm", from: store, width: d, epsilon: eps, variant: .zeroCentred),
            format: format)
        var layers: [Layer] = []
        var (deltaNets, attentions) = (0, 0)
        for (index, type) in config.layerTypes.enumerated() {
            let name = prefix + "layers.\(index)."
            let mixer: Mixer
            switch type {
            case .linearAttention:
                mixer = .deltaNet(
                    try GatedDeltaNet(name + "linear_attn.", from: store, config: config, format: format),
                    index: deltaNets)
                deltaNets += 1
            case .fullAttention:
                mixer = .attention(
                    try GatedAttention(name + "self_attn.", from: store, config: config, format: format),
                    index: attentions)
                attentions += 1
            }
            func linear(_ suffix: String, _ inputs: Int, _ outputs: Int) throws(ModelError) -> Linear {
                try Linear(
                    name + suffix, from: store, inFeatures: inputs, outFeatures: outputs, hasBias: false, format: format
                )
            }
            layers.append(
                Layer(
                    inputNorm: try RMSNorm(
                        name + "input_layernorm", from: store, width: d, epsilon: eps, variant: .zeroCentred),
                    mixer: mixer,
                    feedForward: try FeedForwardBlock(
                        name, from: store, width: d, intermediate: config.intermediateSize, epsilon: eps,
                        normVariant: .zeroCentred, format: format)))
        }
        self.layers = layers
        rotary = MultimodalRotary(
            rotaryDim: config.rotaryDim, theta: config.ropeTheta, section: config.mropeSection, layout: .interleaved)
    }

    /// Attention layers (each holds a KV cache).
    var attentionLayers: Int { config.layerTypes.filter { $0 == .fullAttention }.count }

    /// An empty sequence: a KV cache for the attention layers, a zero state for the DeltaNet layers.
    public func makeSequence() -> SequenceState {
        SequenceState(
            attention: AttentionCache(layers: attentionLayers, tokenWidth: config.kvHeads * config.headDim),
            deltaNet: DeltaNetState(
                layers: config.layers - attentionLayers, channels: config.convChannels,
                history: config.convKernel - 1,
                recurrentSize: config.linearValueHeads * config.linearKeyDim * config.linearValueDim))
    }

    /// The embedding rows of `tokens`, `[tokens.count, hiddenSize]`.
    public func embed(_ tokens: [Int32]) throws(ModelError) -> [Float] { try ends.embed(tokens) }

    /// Runs `hidden` (`[rows, hiddenSize]`) through every layer in place; see `TextDecoder.forward`. Qwen3.5 has
    /// no DeepStack.
    func forward(
        _ hidden: inout [Float], positions: MultimodalPositionRows, segments: [DecoderSegment],
        sequences: inout [SequenceState], deepstack: DeepstackInjection?, pool: ComputePool,
        observe: ((Int, [Float]) -> Void)?
    ) {
        precondition(deepstack == nil, "Qwen3.5 has no DeepStack")
        let rows = positions.count
        precondition(hidden.count == rows * config.hiddenSize, "hidden is not [rows, hiddenSize]")
        let rope = RotaryRows(rotary, positions: positions)
        var normed = [Float](repeating: 0, count: hidden.count)
        for (index, layer) in layers.enumerated() {
            RowOps.normalize(hidden, with: layer.inputNorm, into: &normed)
            let mixed: [Float]
            switch layer.mixer {
            case .deltaNet(let deltaNet, let ordinal):
                mixed = deltaNet.forward(
                    normed, rows: rows, segments: segments, sequences: &sequences, layer: ordinal, pool: pool)
            case .attention(let attention, let ordinal):
                mixed = attention.forward(
                    normed, rows: rows, segments: segments, sequences: &sequences, layer: ordinal, rope: rope,
                    pool: pool)
            }
            RowOps.addInPlace(&hidden, mixed)
            layer.feedForward.apply(&hidden, rows: rows, pool: pool)
            observe?(index, hidden)
        }
    }
}
