import VLCore

/// The dense text decoder of Qwen2-VL / Qwen2.5-VL (Qwen2, qwen-architecture.md §5.1) and Qwen3-VL (Qwen3, §5.2):
/// RMSNorm, grouped-query attention (Qwen2: q/k/v biases, chunked M-RoPE; Qwen3: per-head q/k RMSNorm, interleaved
/// M-RoPE, DeepStack features added after the first layers of a prompt), a SwiGLU MLP, a final RMSNorm, `lm_head`.
///
/// One `forward` call runs any mix of sequences: a prompt (many rows of one sequence) or a decode step (one row of
/// each of several sequences). The linear layers see all rows at once, so a batched decode step reads every weight
/// once; rotary embedding and attention run per sequence against that sequence's cache.
public struct DenseTextDecoder: TextDecoder {
    struct Layer: Sendable {
        let inputNorm: RMSNorm
        let query: Linear
        let key: Linear
        let value: Linear
        let output: Linear
        /// Qwen3's per-head norms of queries and keys (nil for Qwen2).
        let queryNorm: RMSNorm?
        let keyNorm: RMSNorm?
        let feedForward: FeedForwardBlock
    }

    /// The decoder's shape.
    public let config: DenseTextConfig
    /// The embedding, final norm and head.
    let ends: EmbeddingAndHead
    let layers: [Layer]
    let rotary: MultimodalRotary
    let attention: CausalAttention

    /// Loads `model.language_model.*` (and `lm_head.weight` unless tied) with matrices in `format`; the embedding and
    /// head as `TokenEmbedding` says.
    public init(config: DenseTextConfig, store: WeightStore, format: WeightFormat) throws(ModelError) {
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
            let bias = config.attentionBias
            func headNorm(_ suffix: String) throws(ModelError) -> RMSNorm? {
                config.queryKeyNorm ? try RMSNorm(name + suffix, from: store, width: hd, epsilon: eps) : nil
            }
            layers.append(
                Layer(
                    inputNorm: try RMSNorm(name + "input_layernorm", from: store, width: d, epsilon: eps),
                    query: try linear("self_attn.q_proj", d, config.heads * hd, bias: bias),
                    key: try linear("self_attn.k_proj", d, config.kvHeads * hd, bias: bias),
                    value: try linear("self_attn.v_proj", d, config.kvHeads * hd, bias: bias),
                    output: try linear("self_attn.o_proj", config.heads * hd, d, bias: false),
                    queryNorm: try headNorm("self_attn.q_norm"), keyNorm: try headNorm("self_attn.k_norm"),
                    feedForward: try FeedForwardBlock(
                        name, from: store, width: d, intermediate: config.intermediateSize, epsilon: eps,
                        normVariant: .standard, format: format)))
        }
        self.layers = layers
        rotary = MultimodalRotary(
            rotaryDim: hd, theta: config.ropeTheta, section: config.mropeSection, layout: config.ropeLayout)
        attention = CausalAttention(heads: config.heads, kvHeads: config.kvHeads, headDim: hd)
    }

    /// An empty sequence: a KV cache for every layer.
    public func makeSequence() -> SequenceState {
        SequenceState(attention: AttentionCache(layers: config.layers, tokenWidth: config.kvHeads * config.headDim))
    }

    /// The embedding rows of `tokens`, `[tokens.count, hiddenSize]`.
    public func embed(_ tokens: [Int32]) throws(ModelError) -> [Float] { try ends.embed(tokens) }

    /// Runs `hidden` (`[rows, hiddenSize]`, the input embeddings) through every layer, in place, appending each
    /// segment's keys and values to its sequence's cache; see `TextDecoder.forward`.
    func forward(
        _ hidden: inout [Float], positions: MultimodalPositionRows, segments: [DecoderSegment],
        sequences: inout [SequenceState], deepstack: DeepstackInjection?, pool: ComputePool,
        observe: ((Int, [Float]) -> Void)?
    ) {
        let rows = positions.count
        let (d, hd) = (config.hiddenSize, config.headDim)
        precondition(hidden.count == rows * d, "hidden is not [rows, hiddenSize]")
        let rope = RotaryRows(rotary, positions: positions)
        var normed = [Float](repeating: 0, count: rows * d)
        var attended = [Float](repeating: 0, count: rows * config.heads * hd)
        for (index, layer) in layers.enumerated() {
            RowOps.normalize(hidden, with: layer.inputNorm, into: &normed)
            let projected = Linear.apply(
                [layer.query, layer.key, layer.value], sharing: normed, rows: rows, pool: pool)
            var (q, k) = (projected[0], projected[1])
            if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
                q = RowOps.normalized(q, with: queryNorm)
                k = RowOps.normalized(k, with: keyNorm)
            }
            let v = projected[2]
            rope.rotate(&q, heads: config.heads, headDim: hd)
            rope.rotate(&k, heads: config.kvHeads, headDim: hd)
            for segment in segments {
                attention.run(
                    queries: q, keys: k, values: v, rows: segment.rows, layer: index,
                    cache: &sequences[segment.sequence].attention, into: &attended, pool: pool)
            }
            RowOps.addInPlace(&hidden, layer.output.apply(attended, rows: rows, pool: pool))
            layer.feedForward.apply(&hidden, rows: rows, pool: pool)
            // transformers records a layer's output before the DeepStack features are added to it.
            observe?(index, hidden)
            if let deepstack, index < deepstack.layers.count { deepstack.add(layer: index, to: &hidden, width: d) }
        }
    }
}
