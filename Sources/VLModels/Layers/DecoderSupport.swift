import VLCore

/// The two ends of a text decoder: the token embedding in front, the final norm and `lm_head` behind.
///
/// The embedding stays in bf16 for bf16 / f16 runs and uses q8 for q8 and q4 runs; so does `lm_head`, the largest
/// matrix read per token, where 4 bits would cost more accuracy than anywhere else (llama.cpp keeps it at 6 bits or
/// more for the same reason). A tied head is the embedding matrix itself.
struct EmbeddingAndHead: Sendable {
    let embedding: QuantizedMatrix
    let finalNorm: RMSNorm
    let head: Linear

    /// Loads `embeddingName` (`[vocabulary, width]`) and, unless `tied`, `lm_head.weight`; `finalNorm` is the
    /// decoder's last norm.
    init(
        _ embeddingName: String, from store: WeightStore, vocabulary: Int, width: Int, tied: Bool, finalNorm: RMSNorm,
        format: WeightFormat
    ) throws(ModelError) {
        self.finalNorm = finalNorm
        let headFormat: WeightFormat = format.isBlockQuantized ? .q8 : format
        embedding = try store.matrix(embeddingName, shape: [vocabulary, width], format: headFormat)
        if tied {
            head = Linear(weight: embedding, bias: nil)
        } else {
            head = try Linear(
                "lm_head", from: store, inFeatures: width, outFeatures: vocabulary, hasBias: false, format: headFormat)
        }
    }

    var vocabulary: Int { embedding.rows }
    var width: Int { embedding.cols }

    /// The embedding rows of `tokens`, `[tokens.count, width]`.
    func embed(_ tokens: [Int32]) throws(ModelError) -> [Float] {
        let d = width
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw .invalidInput(reason: "token id \(bad) is outside the vocabulary of \(vocabulary)")
        }
        return [Float](unsafeUninitializedCapacity: tokens.count * d) { out, initialized in
            for (row, token) in tokens.enumerated() {
                embedding.decodeRow(Int(token), into: out.baseAddress! + row * d)
            }
            initialized = tokens.count * d
        }
    }

    /// The final norm of `hidden` (`[rows, width]`) and `lm_head`: `[rows, vocabulary]` logits.
    func logits(_ hidden: [Float], rows: Int, pool: ComputePool) -> [Float] {
        head.apply(finalNormalized(hidden), rows: rows, pool: pool)
    }

    /// The final norm alone (transformers' last `hidden_states` entry).
    func finalNormalized(_ hidden: [Float]) -> [Float] { RowOps.normalized(hidden, with: finalNorm) }
}

/// Row-wise helpers the decoders share.
enum RowOps {
    /// `norm` over the rows of `input` into `output` (same size).
    static func normalize(_ input: [Float], with norm: RMSNorm, into output: inout [Float]) {
        input.withUnsafeBufferPointer { x in output.withUnsafeMutableBufferPointer { y in norm.apply(x, into: y) } }
    }

    /// `norm` over the rows of `input`, in a new array.
    static func normalized(_ input: [Float], with norm: RMSNorm) -> [Float] {
        var output = [Float](repeating: 0, count: input.count)
        normalize(input, with: norm, into: &output)
        return output
    }

    /// `target += addend`, element-wise.
    static func addInPlace(_ target: inout [Float], _ addend: [Float]) {
        precondition(target.count == addend.count, "adding arrays of different lengths")
        target.withUnsafeMutableBufferPointer { t in
            addend.withUnsafeBufferPointer { a in
                for i in 0..<t.count { t[i] += a[i] }
            }
        }
    }
}

/// The rotary cos / sin of every row of one forward pass, and their application to query or key rows.
struct RotaryRows {
    let rotaryDim: Int
    private var cos: [Float]
    private var sin: [Float]

    init(_ rotary: MultimodalRotary, positions: MultimodalPositionRows) {
        let (rows, width) = (positions.count, rotary.rotaryDim)
        rotaryDim = width
        var cos = [Float](repeating: 0, count: rows * width)
        var sin = [Float](repeating: 0, count: rows * width)
        cos.withUnsafeMutableBufferPointer { c in
            sin.withUnsafeMutableBufferPointer { s in
                for row in 0..<rows {
                    rotary.fill(
                        temporal: positions.temporal[row], height: positions.height[row], width: positions.width[row],
                        cos: c.baseAddress! + row * width, sin: s.baseAddress! + row * width)
                }
            }
        }
        self.cos = cos
        self.sin = sin
    }

    /// Rotates the first `rotaryDim` dims of every head of every row of `values` (`[rows, heads, headDim]`).
    func rotate(_ values: inout [Float], heads: Int, headDim: Int) {
        let width = heads * headDim
        let rows = values.count / width
        values.withUnsafeMutableBufferPointer { x in
            cos.withUnsafeBufferPointer { c in
                sin.withUnsafeBufferPointer { s in
                    for row in 0..<rows {
                        Kernels.ropeRotateHalf(
                            UnsafeMutableBufferPointer(rebasing: x[(row * width)..<((row + 1) * width)]),
                            cos: UnsafeBufferPointer(rebasing: c[(row * rotaryDim)..<((row + 1) * rotaryDim)]),
                            sin: UnsafeBufferPointer(rebasing: s[(row * rotaryDim)..<((row + 1) * rotaryDim)]),
                            heads: heads, headDim: headDim, rotaryDim: rotaryDim)
                    }
                }
            }
        }
    }
}

/// Grouped-query causal attention of decoder rows against a sequence's KV cache.
struct CausalAttention: Sendable {
    let heads: Int
    let kvHeads: Int
    let headDim: Int

    /// Appends the segment's keys and values (`[rows, kvHeads, headDim]` in the full `keys` / `values`) to
    /// `cache`'s `layer`, then writes the segment's rows of `output` (`[rows, heads, headDim]`): each query attends
    /// to the whole cache up to its own position. Heads are split over the pool.
    func run(
        queries: [Float], keys: [Float], values: [Float], rows: Range<Int>, layer: Int, cache: inout AttentionCache,
        into output: inout [Float], pool: ComputePool
    ) {
        let kvWidth = kvHeads * headDim
        let range = (rows.lowerBound * kvWidth)..<(rows.upperBound * kvWidth)
        keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                cache.append(
                    layer: layer, keys: UnsafeBufferPointer(rebasing: k[range]),
                    values: UnsafeBufferPointer(rebasing: v[range]))
            }
        }
        let keyCount = cache.count(inLayer: layer)
        let offset = rows.lowerBound * heads * headDim
        let scale = 1 / Float(headDim).squareRoot()
        let (heads, kvHeads, headDim) = (heads, kvHeads, headDim)
        queries.withUnsafeBufferPointer { q in
            output.withUnsafeMutableBufferPointer { out in
                cache.withLayer(layer) { cachedKeys, cachedValues in
                    pool.parallelFor(heads) { headRange in
                        let scratch = UnsafeMutableBufferPointer<Float>.allocate(
                            capacity: Kernels.attentionScratchSize(headDim: headDim))
                        defer { scratch.deallocate() }
                        Kernels.attention(
                            queries: q.baseAddress! + offset, keys: cachedKeys.baseAddress!,
                            values: cachedValues.baseAddress!, output: out.baseAddress! + offset,
                            queryCount: rows.count, keyCount: keyCount, heads: heads, kvHeads: kvHeads,
                            headDim: headDim, scale: scale, mask: .causal(queryStart: keyCount - rows.count),
                            headRange: headRange, scratch: scratch)
                    }
                }
            }
        }
    }
}

/// The second half of every Qwen text-decoder layer: `h += down(silu(gate(x)) * up(x))` with `x = norm(h)`.
struct FeedForwardBlock: Sendable {
    let norm: RMSNorm
    let gate: Linear
    let up: Linear
    let down: Linear

    /// Loads `prefix + "post_attention_layernorm"` and `prefix + "mlp.{gate,up,down}_proj"` (no biases).
    init(
        _ prefix: String, from store: WeightStore, width: Int, intermediate: Int, epsilon: Float,
        normVariant: Kernels.RMSNormVariant, format: WeightFormat
    ) throws(ModelError) {
        norm = try RMSNorm(
            prefix + "post_attention_layernorm", from: store, width: width, epsilon: epsilon, variant: normVariant)
        func linear(_ suffix: String, _ inputs: Int, _ outputs: Int) throws(ModelError) -> Linear {
            try Linear(
                prefix + "mlp." + suffix, from: store, inFeatures: inputs, outFeatures: outputs, hasBias: false,
                format: format)
        }
        gate = try linear("gate_proj", width, intermediate)
        up = try linear("up_proj", width, intermediate)
        down = try linear("down_proj", intermediate, width)
    }

    /// Adds the block's output to `hidden` (`[rows, width]`) in place.
    func apply(_ hidden: inout [Float], rows: Int, pool: ComputePool) {
        let x = RowOps.normalized(hidden, with: norm)
        let projected = Linear.apply([gate, up], sharing: x, rows: rows, pool: pool)
        var g = projected[0]
        let u = projected[1]
        g.withUnsafeMutableBufferPointer { g in
            u.withUnsafeBufferPointer { u in Kernels.swiglu(gate: UnsafeBufferPointer(g), up: u, into: g) }
        }
        RowOps.addInPlace(&hidden, down.apply(g, rows: rows, pool: pool))
    }
}
