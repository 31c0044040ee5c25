import Foundation
import VLCore

/// The gated full-attention mixer of Qwen3.5 (qwen-architecture.md §5.3; transformers' `Qwen3_5Attention`):
/// `q_proj` yields a query and an output gate per head (`[query | gate]` in each head's rows), zero-centred q/k
/// RMSNorm per head, rotary embedding on the first `rotaryDim` dims, causal grouped-query attention, the output
/// multiplied by `sigmoid(gate)`, then `o_proj`.
struct GatedAttention: Sendable {
    let config: Qwen35TextConfig
    let queryAndGate: Linear
    let key: Linear
    let value: Linear
    let output: Linear
    let queryNorm: RMSNorm
    let keyNorm: RMSNorm
    let attention: CausalAttention

    init(_ name: String, from store: WeightStore, config: Qwen35TextConfig, format: WeightFormat) throws(ModelError) {
        self.config = config
        let (d, hd) = (config.hiddenSize, config.headDim)
        func linear(_ suffix: String, _ inputs: Int, _ outputs: Int) throws(ModelError) -> Linear {
            try Linear(
                name + suffix, from: store, inFeatures: inputs, outFeatures: outputs, hasBias: false, format: format)
        }
        queryAndGate = try linear("q_proj", d, config.heads * hd * 2)
        key = try linear("k_proj", d, config.kvHeads * hd)
        value = try linear("v_proj", d, config.kvHeads * hd)
        output = try linear("o_proj", config.heads * hd, d)
        let eps = config.rmsNormEpsilon
        queryNorm = try RMSNorm(name + "q_norm", from: store, width: hd, epsilon: eps, variant: .zeroCentred)
        keyNorm = try RMSNorm(name + "k_norm", from: store, width: hd, epsilon: eps, variant: .zeroCentred)
        attention = CausalAttention(heads: config.heads, kvHeads: config.kvHeads, headDim: hd)
    }

    /// The mixer's output (`[rows, hiddenSize]`) for normed input rows `x`; each segment extends its sequence's KV
    /// cache at `layer` (this layer's index among the attention layers).
    func forward(
        _ x: [Float], rows: Int, segments: [DecoderSegment], sequences: inout [SequenceState], layer: Int,
        rope: RotaryRows, pool: ComputePool
    ) -> [Float] {
        let (heads, hd) = (config.heads, config.headDim)
        let inputs = Linear.apply([queryAndGate, key, value], sharing: x, rows: rows, pool: pool)
        let projected = inputs[0]  // [rows, heads, 2 · hd]
        var queries = [Float](repeating: 0, count: rows * heads * hd)
        var gates = [Float](repeating: 0, count: rows * heads * hd)
        for unit in 0..<(rows * heads) {
            queries[(unit * hd)..<((unit + 1) * hd)] = projected[(2 * unit * hd)..<((2 * unit + 1) * hd)]
            gates[(unit * hd)..<((unit + 1) * hd)] = projected[((2 * unit + 1) * hd)..<((2 * unit + 2) * hd)]
        }
        queries = RowOps.normalized(queries, with: queryNorm)
        var keys = RowOps.normalized(inputs[1], with: keyNorm)
        let values = inputs[2]
        rope.rotate(&queries, heads: heads, headDim: hd)
        rope.rotate(&keys, heads: config.kvHeads, headDim: hd)
        var attended = [Float](repeating: 0, count: rows * heads * hd)
        for segment in segments {
            attention.run(
                queries: queries, keys: keys, values: values, rows: segment.rows, layer: layer,
                cache: &sequences[segment.sequence].attention, into: &attended, pool: pool)
        }
        for i in attended.indices { attended[i] *= 1 / (1 + Foundation.exp(-gates[i])) }
        return output.apply(attended, rows: rows, pool: pool)
    }
}
