import VLCore

/// The Qwen2 text decoder of Qwen2-VL and Qwen2.5-VL (qwen-architecture.md §5.1): RMSNorm, grouped-query attention
/// with q/k/v biases and chunked M-RoPE, a SwiGLU MLP, a final RMSNorm and `lm_head`.
///
/// One `forward` call runs any mix of sequences: a prompt (many rows of one sequence) or a decode step (one row of
/// each of several sequences). The linear layers see all rows at once, so a batched decode step reads every weight
/// once; rotary embedding and attention run per sequence against that sequence's cache.
public struct Qwen2TextDecoder: Sendable {
    /// A run of consecutive rows of one `forward` call that belong to one sequence.
    public struct Segment: Sendable {
        /// Which of the caches passed to `forward` the rows extend.
        public var cache: Int
        /// The rows, in the order of the sequence.
        public var rows: Range<Int>

        /// Rows `rows` extend `caches[cache]`.
        public init(cache: Int, rows: Range<Int>) {
            self.cache = cache
            self.rows = rows
        }
    }

    struct Layer: Sendable {
        let inputNorm: RMSNorm
        let query: Linear
        let key: Linear
        let value: Linear
        let output: Linear
        let postAttentionNorm: RMSNorm
        let gate: Linear
        let up: Linear
        let down: Linear
    }

    /// The decoder's shape.
    public let config: Qwen2VLConfig.Text
    /// `embed_tokens`, also `lm_head` when the checkpoint ties them.
    let embedding: QuantizedMatrix
    let layers: [Layer]
    let finalNorm: RMSNorm
    let lmHead: Linear
    let rotary: MultimodalRotary

    /// Loads `model.language_model.*` (and `lm_head.weight` unless tied) with matrices in `format`.
    ///
    /// The embedding and `lm_head` stay in bf16 for bf16 / f16 runs and use q8 for q8 and q4 runs: `lm_head` is the
    /// largest matrix read per token, and 4 bits there costs more accuracy than anywhere else (llama.cpp keeps it at
    /// 6 bits or more for the same reason).
    public init(config: Qwen2VLConfig.Text, store: WeightStore, format: WeightFormat) throws(ModelError) {
        self.config = config
        let prefix = "model.language_model."
        let (d, hd) = (config.hiddenSize, config.headDim)
        let headFormat: WeightFormat = format.isBlockQuantized ? .q8 : format
        embedding = try store.matrix(
            prefix + "embed_tokens.weight", shape: [config.vocabularySize, d], format: headFormat)
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
                    postAttentionNorm: try RMSNorm(
                        name + "post_attention_layernorm", from: store, width: d, epsilon: eps),
                    gate: try linear("mlp.gate_proj", d, config.intermediateSize, bias: false),
                    up: try linear("mlp.up_proj", d, config.intermediateSize, bias: false),
                    down: try linear("mlp.down_proj", config.intermediateSize, d, bias: false)))
        }
        self.layers = layers
        finalNorm = try RMSNorm(prefix + "norm", from: store, width: d, epsilon: config.rmsNormEpsilon)
        if config.tieWordEmbeddings {
            lmHead = Linear(weight: embedding, bias: nil)
        } else {
            lmHead = try Linear(
                "lm_head", from: store, inFeatures: d, outFeatures: config.vocabularySize, hasBias: false,
                format: headFormat)
        }
        rotary = MultimodalRotary(
            rotaryDim: hd, theta: config.ropeTheta, section: config.mropeSection, layout: .chunked)
    }

    /// An empty cache for one sequence.
    public func makeCache() -> AttentionCache {
        AttentionCache(layers: config.layers, tokenWidth: config.kvHeads * config.headDim)
    }

    /// The embedding rows of `tokens`, `[tokens.count, hiddenSize]`.
    public func embed(_ tokens: [Int32]) throws(ModelError) -> [Float] {
        let d = config.hiddenSize
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= config.vocabularySize }) {
            throw .invalidInput(reason: "token id \(bad) is outside the vocabulary of \(config.vocabularySize)")
        }
        return [Float](unsafeUninitializedCapacity: tokens.count * d) { out, initialized in
            for (row, token) in tokens.enumerated() {
                embedding.decodeRow(Int(token), into: out.baseAddress! + row * d)
            }
            initialized = tokens.count * d
        }
    }

    /// Runs `hidden` (`[rows, hiddenSize]`, the input embeddings) through every layer, in place, appending each
    /// segment's keys and values to its cache. `positions` gives each row's (temporal, height, width) position.
    /// `observe` sees the hidden state after each layer (for parity tests).
    public func forward(
        _ hidden: inout [Float], positions: MultimodalPositionRows, segments: [Segment], caches: inout [AttentionCache],
        pool: ComputePool, observe: ((Int, [Float]) -> Void)? = nil
    ) {
        let rows = positions.count
        let (d, hd, heads, kvHeads) = (config.hiddenSize, config.headDim, config.heads, config.kvHeads)
        precondition(hidden.count == rows * d, "hidden is not [rows, hiddenSize]")
        var cos = [Float](repeating: 0, count: rows * hd)
        var sin = [Float](repeating: 0, count: rows * hd)
        cos.withUnsafeMutableBufferPointer { c in
            sin.withUnsafeMutableBufferPointer { s in
                for row in 0..<rows {
                    rotary.fill(
                        temporal: positions.temporal[row], height: positions.height[row], width: positions.width[row],
                        cos: c.baseAddress! + row * hd, sin: s.baseAddress! + row * hd)
                }
            }
        }
        var normed = [Float](repeating: 0, count: rows * d)
        var attention = [Float](repeating: 0, count: rows * heads * hd)
        for (index, layer) in layers.enumerated() {
            normalize(hidden, with: layer.inputNorm, into: &normed)
            var q = layer.query.apply(normed, rows: rows, pool: pool)
            var k = layer.key.apply(normed, rows: rows, pool: pool)
            let v = layer.value.apply(normed, rows: rows, pool: pool)
            rotate(&q, heads: heads, cos: cos, sin: sin)
            rotate(&k, heads: kvHeads, cos: cos, sin: sin)
            for segment in segments {
                let range = (segment.rows.lowerBound * kvHeads * hd)..<(segment.rows.upperBound * kvHeads * hd)
                k.withUnsafeBufferPointer { keys in
                    v.withUnsafeBufferPointer { values in
                        caches[segment.cache].append(
                            layer: index, keys: UnsafeBufferPointer(rebasing: keys[range]),
                            values: UnsafeBufferPointer(rebasing: values[range]))
                    }
                }
                attend(q, segment: segment, layer: index, cache: caches[segment.cache], into: &attention, pool: pool)
            }
            addInPlace(&hidden, layer.output.apply(attention, rows: rows, pool: pool))
            normalize(hidden, with: layer.postAttentionNorm, into: &normed)
            var gate = layer.gate.apply(normed, rows: rows, pool: pool)
            let up = layer.up.apply(normed, rows: rows, pool: pool)
            gate.withUnsafeMutableBufferPointer { g in
                up.withUnsafeBufferPointer { u in Kernels.swiglu(gate: UnsafeBufferPointer(g), up: u, into: g) }
            }
            addInPlace(&hidden, layer.down.apply(gate, rows: rows, pool: pool))
            observe?(index, hidden)
        }
    }

    /// The final norm of `hidden` (`[rows, hiddenSize]`) and `lm_head`: `[rows, vocabularySize]` logits.
    public func logits(_ hidden: [Float], rows: Int, pool: ComputePool) -> [Float] {
        var normed = [Float](repeating: 0, count: hidden.count)
        normalize(hidden, with: finalNorm, into: &normed)
        return lmHead.apply(normed, rows: rows, pool: pool)
    }

    /// The final norm alone (transformers' last `hidden_states` entry).
    public func finalNormalized(_ hidden: [Float]) -> [Float] {
        var normed = [Float](repeating: 0, count: hidden.count)
        normalize(hidden, with: finalNorm, into: &normed)
        return normed
    }

    private func normalize(_ input: [Float], with norm: RMSNorm, into output: inout [Float]) {
        input.withUnsafeBufferPointer { x in output.withUnsafeMutableBufferPointer { y in norm.apply(x, into: y) } }
    }

    private func rotate(_ values: inout [Float], heads: Int, cos: [Float], sin: [Float]) {
        let hd = config.headDim
        let rows = values.count / (heads * hd)
        values.withUnsafeMutableBufferPointer { x in
            cos.withUnsafeBufferPointer { c in
                sin.withUnsafeBufferPointer { s in
                    for row in 0..<rows {
                        Kernels.ropeRotateHalf(
                            UnsafeMutableBufferPointer(rebasing: x[(row * heads * hd)..<((row + 1) * heads * hd)]),
                            cos: UnsafeBufferPointer(rebasing: c[(row * hd)..<((row + 1) * hd)]),
                            sin: UnsafeBufferPointer(rebasing: s[(row * hd)..<((row + 1) * hd)]),
                            heads: heads, headDim: hd, rotaryDim: hd)
                    }
                }
            }
        }
    }

    /// Causal attention of the segment's queries over its whole cache, heads split over the pool.
    private func attend(
        _ queries: [Float], segment: Segment, layer: Int, cache: AttentionCache, into output: inout [Float],
        pool: ComputePool
    ) {
        let (hd, heads, kvHeads) = (config.headDim, config.heads, config.kvHeads)
        let keyCount = cache.count(inLayer: layer)
        let queryCount = segment.rows.count
        let offset = segment.rows.lowerBound * heads * hd
        let scale = 1 / Float(hd).squareRoot()
        queries.withUnsafeBufferPointer { q in
            output.withUnsafeMutableBufferPointer { out in
                cache.withLayer(layer) { keys, values in
                    pool.parallelFor(heads) { headRange in
                        let scratch = UnsafeMutableBufferPointer<Float>.allocate(
                            capacity: Kernels.attentionScratchSize(headDim: hd))
                        defer { scratch.deallocate() }
                        Kernels.attention(
                            queries: q.baseAddress! + offset, keys: keys.baseAddress!, values: values.baseAddress!,
                            output: out.baseAddress! + offset, queryCount: queryCount, keyCount: keyCount,
                            heads: heads, kvHeads: kvHeads, headDim: hd, scale: scale,
                            mask: .causal(queryStart: keyCount - queryCount), headRange: headRange, scratch: scratch)
                    }
                }
            }
        }
    }

    private func addInPlace(_ target: inout [Float], _ addend: [Float]) {
        target.withUnsafeMutableBufferPointer { t in
            addend.withUnsafeBufferPointer { a in
                for i in 0..<t.count { t[i] += a[i] }
            }
        }
    }
}
