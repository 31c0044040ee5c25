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

extension Kernels {
    /// Scratch floats `matrixAttention` needs per thread for `tokens` tokens and `headDim`: a block of query rows, a
    /// head's keys and transposed values, a block of scores, a block of outputs, and the matrix multiply's workspace.
    public static func matrixAttentionScratchSize(tokens: Int, headDim: Int) -> Int {
        let block = matrixAttentionBlock(tokens: tokens)
        let workspace = max(
            matmulWorkspaceSize(k: headDim, columnCount: tokens), matmulWorkspaceSize(k: tokens, columnCount: headDim))
        return block * headDim * 2 + tokens * headDim * 2 + block * tokens + workspace / MemoryLayout<Float>.size + 16
    }

    /// Query rows per block: all of them for an image of ordinary size, fewer for a very large one, so a block of
    /// scores stays below 4 Mi floats (16 MB) per thread.
    static func matrixAttentionBlock(tokens: Int) -> Int { max(16, min(tokens, (1 << 22) / max(tokens, 1))) }

    /// Non-causal multi-head attention over one sequence computed with the matrix multiply, for the vision towers:
    /// per head, `S = (Q Kᵀ) · scale` for a block of queries, a softmax per row, `O = S V`.
    ///
    /// The same result as `attention(mask: .none)` up to rounding (the products sum in the matrix multiply's order,
    /// the softmax is not online), and several times faster when every query sees the same many keys: the products
    /// run at matrix-multiply speed instead of one query at a time. Scores for a block of queries are materialised
    /// (`matrixAttentionBlock` bounds the block), so memory stays bounded on large images too.
    ///
    /// `queries`, `keys`, `values` and `output` are `[tokens, heads, headDim]`; only heads in `headRange` are written,
    /// so disjoint head ranges can run on different threads, each with its own `scratch` of at least
    /// `matrixAttentionScratchSize(tokens:headDim:)` floats. Results do not depend on the head split.
    public static func matrixAttention(
        queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, headDim: Int, scale: Float, headRange: Range<Int>,
        scratch: UnsafeMutableBufferPointer<Float>, isa: InstructionSet = .active
    ) {
        precondition(tokens >= 0 && heads > 0 && headDim > 0, "negative attention shape")
        precondition(headRange.lowerBound >= 0 && headRange.upperBound <= heads, "headRange is outside 0 ..< heads")
        precondition(scratch.count >= matrixAttentionScratchSize(tokens: tokens, headDim: headDim), "scratch too small")
        guard tokens > 0, !headRange.isEmpty else { return }
        let block = matrixAttentionBlock(tokens: tokens)
        let stride = heads * headDim
        // Carve the scratch: the matrix multiply's workspace first, 64-byte aligned.
        let base = scratch.baseAddress!
        let aligned = UnsafeMutablePointer<Float>(
            bitPattern: (Int(bitPattern: base) + 63) & ~63)!
        let workspaceFloats =
            max(
                matmulWorkspaceSize(k: headDim, columnCount: tokens),
                matmulWorkspaceSize(k: tokens, columnCount: headDim))
            / MemoryLayout<Float>.size
        let workspace = UnsafeMutableRawBufferPointer(start: aligned, count: workspaceFloats * MemoryLayout<Float>.size)
        let headKeys = aligned + workspaceFloats
        let headValuesT = headKeys + tokens * headDim  // [headDim, tokens]
        let blockQueries = headValuesT + tokens * headDim
        let scores = blockQueries + block * headDim
        let blockOutput = scores + block * tokens
        for head in headRange {
            for t in 0..<tokens {
                let source = t * stride + head * headDim
                for d in 0..<headDim {
                    headKeys[t * headDim + d] = keys[source + d]
                    headValuesT[d * tokens + t] = values[source + d]
                }
            }
            var first = 0
            while first < tokens {
                let rows = min(block, tokens - first)
                for r in 0..<rows {
                    let source = (first + r) * stride + head * headDim
                    for d in 0..<headDim { blockQueries[r * headDim + d] = queries[source + d] }
                }
                matmul(
                    inputs: blockQueries, m: rows, k: headDim, weights: .f32(headKeys), n: tokens, columns: 0..<tokens,
                    bias: nil, outputs: scores, workspace: workspace, isa: isa)
                for r in 0..<rows {
                    let row = UnsafeMutableBufferPointer(start: scores + r * tokens, count: tokens)
                    for j in 0..<tokens { row[j] *= scale }
                    softmax(row, isa: isa)
                }
                matmul(
                    inputs: scores, m: rows, k: tokens, weights: .f32(headValuesT), n: headDim, columns: 0..<headDim,
                    bias: nil, outputs: blockOutput, workspace: workspace, isa: isa)
                for r in 0..<rows {
                    let target = (first + r) * stride + head * headDim
                    for d in 0..<headDim { output[target + d] = blockOutput[r * headDim + d] }
                }
                first += rows
            }
        }
    }
}
