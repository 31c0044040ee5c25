import Foundation
import VLCore

/// A Gated DeltaNet token mixer of Qwen3.5 (qwen-architecture.md §5.3; transformers' `Qwen3_5GatedDeltaNet`): a
/// causal depthwise convolution with SiLU over the projected queries, keys and values, L2-normalised queries and
/// keys, and per value head a recurrent fp32 state updated by the gated delta rule, read out through a gated RMSNorm.
///
/// A prompt and a decode step run the same recurrence (`Kernels.gatedDeltaRule`), so the state after a prompt is the
/// state after feeding its tokens one by one, bit for bit.
struct GatedDeltaNet: Sendable {
    let config: Qwen35TextConfig
    let inputProjection: Linear  // in_proj_qkv: d → convChannels
    let gateProjection: Linear  // in_proj_z: d → valueHeads · valueDim
    let betaProjection: Linear  // in_proj_b: d → valueHeads
    let decayProjection: Linear  // in_proj_a: d → valueHeads
    /// `conv1d.weight`, `[channels, taps]`.
    let convolution: [Float]
    let decayBias: [Float]  // dt_bias
    /// `-exp(A_log)`, per value head, in fp32 as transformers computes it.
    let negativeDecayRate: [Float]
    let norm: RMSNorm
    let outputProjection: Linear

    init(_ name: String, from store: WeightStore, config: Qwen35TextConfig, format: WeightFormat) throws(ModelError) {
        self.config = config
        let (d, channels, heads) = (config.hiddenSize, config.convChannels, config.linearValueHeads)
        let valueWidth = heads * config.linearValueDim
        func linear(_ suffix: String, _ inputs: Int, _ outputs: Int) throws(ModelError) -> Linear {
            try Linear(
                name + suffix, from: store, inFeatures: inputs, outFeatures: outputs, hasBias: false, format: format)
        }
        inputProjection = try linear("in_proj_qkv", d, channels)
        gateProjection = try linear("in_proj_z", d, valueWidth)
        // Few rows: the 32-column block formats gain nothing here, keep them dense.
        let small: WeightFormat = format.isBlockQuantized ? .bf16 : format
        betaProjection = try Linear(
            name + "in_proj_b", from: store, inFeatures: d, outFeatures: heads, hasBias: false, format: small)
        decayProjection = try Linear(
            name + "in_proj_a", from: store, inFeatures: d, outFeatures: heads, hasBias: false, format: small)
        convolution = try store.floats(name + "conv1d.weight", shape: [channels, 1, config.convKernel])
        decayBias = try store.floats(name + "dt_bias", shape: [heads])
        negativeDecayRate = try store.floats(name + "A_log", shape: [heads]).map { -Foundation.exp($0) }
        norm = try RMSNorm(
            name + "norm", from: store, width: config.linearValueDim, epsilon: config.rmsNormEpsilon,
            variant: .standard)
        outputProjection = try linear("out_proj", valueWidth, d)
    }

    /// The mixer's output (`[rows, hiddenSize]`) for normed input rows `x`; each segment advances its sequence's
    /// DeltaNet state at `layer` (this layer's index among the DeltaNet layers).
    func forward(
        _ x: [Float], rows: Int, segments: [DecoderSegment], sequences: inout [SequenceState], layer: Int,
        pool: ComputePool
    ) -> [Float] {
        let (valueHeads, valueDim) = (config.linearValueHeads, config.linearValueDim)
        // In q8 / q4 runs beta and decay are bf16, so they go on their own (`Linear.apply(_:sharing:)` joins one format).
        let projected = Linear.apply([inputProjection, gateProjection], sharing: x, rows: rows, pool: pool)
        var mixed = projected[0]  // [rows, channels], then conv + SiLU in place
        var gate = projected[1]  // z, [rows, valueHeads · valueDim]
        let decays = Linear.apply([betaProjection, decayProjection], sharing: x, rows: rows, pool: pool)
        let (beta, decay) = (decays[0], decays[1])  // [rows, valueHeads] each; decay is a
        for segment in segments {
            convolve(&mixed, rows: segment.rows, state: &sequences[segment.sequence].deltaNet, layer: layer)
        }
        mixed.withUnsafeMutableBufferPointer { Kernels.activate(.silu, UnsafeBufferPointer($0), into: $0) }
        normalizeQueriesAndKeys(&mixed, rows: rows)
        var output = [Float](repeating: 0, count: rows * valueHeads * valueDim)
        for segment in segments {
            recur(
                mixed, beta: beta, decay: decay, rows: segment.rows, state: &sequences[segment.sequence].deltaNet,
                layer: layer, into: &output, pool: pool)
        }
        // Gated RMSNorm per head: w · norm(o), then · silu(z).
        output.withUnsafeMutableBufferPointer { o in norm.apply(UnsafeBufferPointer(o), into: o) }
        gate.withUnsafeMutableBufferPointer { Kernels.activate(.silu, UnsafeBufferPointer($0), into: $0) }
        for i in output.indices { output[i] *= gate[i] }
        return outputProjection.apply(output, rows: rows, pool: pool)
    }

    /// The causal depthwise convolution of one segment's rows of `mixed`, in place (before SiLU), continuing from
    /// and then updating the state's last inputs.
    private func convolve(_ mixed: inout [Float], rows: Range<Int>, state: inout DeltaNetState, layer: Int) {
        let (channels, taps, history) = (config.convChannels, config.convKernel, config.convKernel - 1)
        // The inputs this segment sees: the kept history, then its own rows.
        var inputs = state.convolution[layer]
        inputs += mixed[(rows.lowerBound * channels)..<(rows.upperBound * channels)]
        for (offset, row) in rows.enumerated() {
            // Output for input position history + offset reads positions offset ... offset + history.
            for c in 0..<channels {
                var sum: Float = 0
                for tap in 0..<taps {
                    sum = fmaf(convolution[c * taps + tap], inputs[(offset + tap) * channels + c], sum)
                }
                mixed[row * channels + c] = sum
            }
        }
        state.convolution[layer] = Array(inputs[(inputs.count - history * channels)...])
    }

    /// L2-normalises every query and key head in place and scales the queries by keyDim^-1/2, as transformers'
    /// `l2norm` (x · rsqrt(Σx² + 1e-6)) followed by `query / sqrt(dk)`.
    private func normalizeQueriesAndKeys(_ mixed: inout [Float], rows: Int) {
        let (keyHeads, keyDim, channels) = (config.linearKeyHeads, config.linearKeyDim, config.convChannels)
        let scale = Float(keyDim).squareRoot()
        mixed.withUnsafeMutableBufferPointer { m in
            for row in 0..<rows {
                for head in 0..<(2 * keyHeads) {
                    let base = row * channels + head * keyDim
                    var sum: Float = 0
                    for i in 0..<keyDim { sum = fmaf(m[base + i], m[base + i], sum) }
                    let inverse = 1 / (sum + 1e-6).squareRoot()
                    for i in 0..<keyDim {
                        m[base + i] *= inverse
                        if head < keyHeads { m[base + i] /= scale }
                    }
                }
            }
        }
    }

    /// Runs the gated delta rule over one segment's rows for every value head (heads split over the pool), writing
    /// `output` rows `[valueHeads, valueDim]`.
    private func recur(
        _ mixed: [Float], beta: [Float], decay: [Float], rows: Range<Int>, state: inout DeltaNetState, layer: Int,
        into output: inout [Float], pool: ComputePool
    ) {
        let (keyHeads, keyDim) = (config.linearKeyHeads, config.linearKeyDim)
        let (valueHeads, valueDim, channels) = (config.linearValueHeads, config.linearValueDim, config.convChannels)
        let count = rows.count
        // Per head, per token: α = exp(−exp(A_log) · softplus(a + dt_bias)) and β = sigmoid(b), contiguous per head.
        var alphas = [Float](repeating: 0, count: valueHeads * count)
        var betas = [Float](repeating: 0, count: valueHeads * count)
        for (t, row) in rows.enumerated() {
            for head in 0..<valueHeads {
                let a = decay[row * valueHeads + head] + decayBias[head]
                let softplus = a > 20 ? a : Foundation.log1p(Foundation.exp(a))
                alphas[head * count + t] = Foundation.exp(negativeDecayRate[head] * softplus)
                betas[head * count + t] = 1 / (1 + Foundation.exp(-beta[row * valueHeads + head]))
            }
        }
        let group = valueHeads / keyHeads
        let stateSize = keyDim * valueDim
        let queryOffset = rows.lowerBound * channels
        let outputWidth = valueHeads * valueDim
        mixed.withUnsafeBufferPointer { m in
            output.withUnsafeMutableBufferPointer { out in
                alphas.withUnsafeBufferPointer { alpha in
                    betas.withUnsafeBufferPointer { beta in
                        state.recurrent[layer].withUnsafeMutableBufferPointer { s in
                            pool.parallelFor(valueHeads) { heads in
                                for head in heads {
                                    let keyHead = head / group
                                    let base = m.baseAddress! + queryOffset
                                    Kernels.gatedDeltaRule(
                                        state: s.baseAddress! + head * stateSize, keyDim: keyDim, valueDim: valueDim,
                                        tokens: count, queries: base + keyHead * keyDim,
                                        keys: base + (keyHeads + keyHead) * keyDim, queryKeyStride: channels,
                                        values: base + 2 * keyHeads * keyDim + head * valueDim, valueStride: channels,
                                        decay: alpha.baseAddress! + head * count,
                                        beta: beta.baseAddress! + head * count,
                                        output: out.baseAddress! + rows.lowerBound * outputWidth + head * valueDim,
                                        outputStride: outputWidth)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
