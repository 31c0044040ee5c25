import CVLKernels

// Swift face of `vl_attention.h`: tiled scaled dot-product attention for one sequence, fp32, with grouped-query
// heads and an online softmax (qwen-architecture.md §1.4). Every ISA gives bit-identical results, and so does every
// split of the heads over threads; see the C header for the order of operations.

extension Kernels {
    /// Which keys each query sees in `attention`.
    public enum AttentionMask: Sendable, Equatable {
        /// Every query sees every key (vision: pass one image's tokens so images do not attend to each other).
        case none
        /// Query `i` sits at absolute position `queryStart + i` and sees keys `0 ... queryStart + i`.
        ///
        /// Prefill: `queryStart = 0`; a chunk after `n` cached tokens: `queryStart = n`, keys `n + queryCount`;
        /// decode: one query with `queryStart = keyCount - 1`.
        case causal(queryStart: Int)
    }

    /// Keys per tile of the online softmax (`VL_ATTENTION_TILE`): where the running maximum may be rescaled, which
    /// error bounds count.
    public static let attentionKeyTile = Int(VL_ATTENTION_TILE)

    /// Floats of scratch one `attention` call needs (each thread passes its own); independent of sequence length.
    public static func attentionScratchSize(headDim: Int) -> Int {
        precondition(headDim >= 0, "negative headDim")
        return vl_attention_scratch_floats(headDim)
    }

    /// `output = softmax(queries keysᵀ · scale) values` per query head, for the heads in `headRange` only.
    ///
    /// `queries` and `output` are `[queryCount, heads, headDim]`; `keys` and `values` are
    /// `[keyCount, kvHeads, headDim]`. Query head `h` reads KV head `h / (heads / kvHeads)`. `scale` is usually
    /// `1 / sqrt(headDim)`. Disjoint head ranges may run on different threads, each with its own `scratch` of at least
    /// `attentionScratchSize(headDim:)` floats; heads outside `headRange` are left untouched.
    public static func attention(
        queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, queryCount: Int, keyCount: Int, heads: Int, kvHeads: Int, headDim: Int,
        scale: Float, mask: AttentionMask, headRange: Range<Int>, scratch: UnsafeMutableBufferPointer<Float>,
        isa: InstructionSet = .active
    ) {
        precondition(queryCount >= 0 && keyCount >= 0 && headDim >= 0, "negative attention shape")
        precondition(kvHeads > 0 && heads % kvHeads == 0, "heads must be a positive multiple of kvHeads")
        precondition(headRange.lowerBound >= 0 && headRange.upperBound <= heads, "headRange is outside 0 ..< heads")
        precondition(scratch.count >= attentionScratchSize(headDim: headDim), "scratch is too small")
        guard !headRange.isEmpty, queryCount > 0, let scratchBase = scratch.baseAddress else { return }
        let mode: vl_attention_mode
        let queryStart: Int
        switch mask {
        case .none:
            (mode, queryStart) = (VL_ATTENTION_FULL, 0)
        case .causal(let start):
            precondition(start >= 0, "negative queryStart")
            (mode, queryStart) = (VL_ATTENTION_CAUSAL, start)
        }
        vl_attention(
            isa.cValue, queries, keys, values, output, queryCount, keyCount, heads, kvHeads, headDim, scale, mode,
            queryStart, headRange.lowerBound, headRange.upperBound, scratchBase)
    }
}
