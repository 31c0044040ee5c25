import VLCore

/// The Qwen2 text decoder of Qwen2-VL and Qwen2.5-VL (qwen-architecture.md §5.1): RMSNorm, grouped-query attention
/// with q/k/v biases and chunked M-RoPE, a SwiGLU MLP, a final RMSNorm and `lm_head`.
///
/// One `forward` call runs any mix of sequences: a prompt (many rows of one sequence) or a decode step (one row of
/// each of several sequences). The linear layers see all rows at once, so a batched decode step reads every weight
/// once; rotary embedding and attention run per sequence against that sequence's cache.
public struct Qwen2TextDecoder: TextDecoder {
    struct Layer: Sendable {
        let inputNorm: RMSNorm
        let query: Linear
        let key: Linear
        let value: Linear
        let output: Linear
        let feedForward: FeedForwardBlock
    }

    /// The decoder's shape.
    public let config: Qwen2VLConfig.Text
    /// The embedding, final norm and head.
    let ends: EmbeddingAndHead
    let layers: [Layer]
    let rotary: MultimodalRotary
    let attention: CausalAttention

    /// Loads `model.language_model.*` (and `lm_head.weight` unless tied) with matrices in `format`; the embedding and
    /// head as `TokenEmbedding` says.
    public init(config: Qwen2VLConfig.Text, store: WeightStore, format: WeightFormat) throws(ModelError) {
        self.config = config
        let prefix = "model.language_model."
        let (d, hd) = (config.hiddenSize, config.headDim)
        ends = try EmbeddingAndHead(
            prefix + "embed_tokens.weight", from: store, vocabulary: config.vocabularySize, width: d,
            tied: config.tieWordEmbeddings,
            finalNorm: try RMSNorm(prefix + "norm", from: store, width: d, epsilon: config.rmsNormEpsilon),
            format: format)
        var layers: [Layer] = []
        for index in 0..<config.layers {
            let name = prefix + "layers.\(index)."
            func linear(_ suffix: String, _ inputs: Int, _ outputs: Int, bias: Bool) throws(ModelError) -> Linear {
                try Linear(
                    name + suffix, from: store, inFeatures: inputs, outFeatures: outputs, hasBias: bias, format: format)
            }
            let eps = config.rmsNormEpsilon
            layers.append(
                Layer(
                    inputNorm: try RMSNorm(name + "input_layernorm", from: store, width: d, epsilon: eps),
                    query: try linear("self_attn.q_proj", d, config.heads * hd, bias: true),
                    key: try linear("self_attn.k_proj", d, config.kvHeads * hd, bias: true),
                    value: try linear("self_attn.v_proj", d, config.kvHeads * hd, bias: true),
                    output: try linear("self_attn.o_proj", config.heads * hd, d, bias: false),
                    feedForward: try FeedForwardBlock(
                        name, from: store, width: d, intermediate: config.intermediateSize, epsilon: eps,
                        normVariant: .standard, format: format)))
        }
        self.layers = layers
        rotary = MultimodalRotary(
            rotaryDim: hd, theta: config.ropeTheta, section: config.mropeSection, layout: .chunked)
        attention = CausalAttention(heads: config.heads, kvHeads: config.kvHeads, headDim: hd)
    }

    /// An empty sequence: a KV cache for every layer.
    public func makeSequence() -> SequenceState {
        SequenceState(attention: AttentionCache(layers: config.layers, tokenWidth: config.kvHeads * config.headDim))
    }

    /// The embedding rows of `tokens`, `[tokens.count, hiddenSize]`.
    public func embed(_ tokens: [Int32]) throws(ModelError) -> [Float] { try ends.embed(tokens) }

    /// Runs `hidden` (`[rows, hiddenSize]`, the input embeddings) through every layer, in place, appending each
    /// segment's keys and values to its sequence's cache; see `TextDecoder.forward`. Qwen2 has no DeepStack.
    func forward(
        _ hidden: inout [Float], positions: MultimodalPositionRows, segments: [DecoderSegment],
        sequences: inout [SequenceState], deepstack: DeepstackInjection?, pool: ComputePool,
        observe: ((Int, [Float]) -> Void)?
    ) {
        precondition(deepstack == nil, "Qwen2-VL has no DeepStack")
        let rows = positions.count
        let (d, hd) = (config.hiddenSize, config.headDim)
        precondition(hidden.count == rows * d, "hidden is not [rows, hiddenSize]")
        let rope = RotaryRows(rotary, positions: positions)
        var normed = [Float](repeating: 0, count: rows * d)
        var attended = [Float](repeating: 0, count: rows * config.heads * hd)
        for (index, layer) in layers.enumerated() {
            RowOps.normalize(hidden, with: layer.inputNorm, into: &normed)
            var q = layer.query.apply(normed, rows: rows, pool: pool)
            var k = layer.key.apply(normed, rows: rows, pool: pool)
            let v = layer.value.apply(normed, rows: rows, pool: pool)
            rope.rotate(&q, heads: config.heads, headDim: hd)
            rope.rotate(&k, heads: config.kvHeads, headDim: hd)
            for segment in segments {
                attention.run(
                    queries: q, keys: k, values: v, rows: segment.rows, layer: index,
                    cache: &sequences[segment.sequence].attention, into: &attended, pool: pool)
            }
            RowOps.addInPlace(&hidden, layer.output.apply(attended, rows: rows, pool: pool))
            layer.feedForward.apply(&hidden, rows: rows, pool: pool)
            observe?(index, hidden)
        }
    }
}
