import VLCore

/// A norm of a vision tower: LayerNorm with bias (Qwen2-VL, Qwen3-VL, Qwen3.5) or standard RMSNorm (Qwen2.5-VL).
enum VisionNorm: Sendable {
    case layer(LayerNorm)
    case rms(RMSNorm)

    /// transformers hard-codes this epsilon for every norm of every Qwen vision tower.
    static let epsilon: Float = 1e-6

    /// The normalised width.
    var width: Int {
        switch self {
        case .layer(let norm): norm.width
        case .rms(let norm): norm.width
        }
    }

    /// Normalises `rows` rows of `width` floats of `input` into `output` (may be the same memory), rows split over the
    /// pool.
    func apply(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>, pool: ComputePool) {
        let width = width
        pool.parallelFor(rows, minimumChunk: 16) { range in
            let count = range.count * width
            let source = UnsafeBufferPointer(start: input + range.lowerBound * width, count: count)
            let target = UnsafeMutableBufferPointer(start: output + range.lowerBound * width, count: count)
            switch self {
            case .layer(let norm): norm.apply(source, into: target)
            case .rms(let norm): norm.apply(source, into: target)
            }
        }
    }
}

/// The MLP of a vision block: `fc2(act(fc1(x)))` (Qwen2-VL quick_gelu, Qwen3-VL / Qwen3.5 gelu_pytorch_tanh) or
/// `down(silu(gate(x)) * up(x))` (Qwen2.5-VL), all with biases.
enum VisionMLP: Sendable {
    case activated(fc1: Linear, activation: Kernels.Activation, fc2: Linear)
    case swiglu(gate: Linear, up: Linear, down: Linear)

    /// The hidden width.
    var intermediateSize: Int {
        switch self {
        case .activated(let fc1, _, _): fc1.outFeatures
        case .swiglu(let gate, _, _): gate.outFeatures
        }
    }

    /// `[rows, width]` → `[rows, width]`; `inner` and `gated` hold at least `rows * intermediateSize` floats.
    func apply(
        _ input: UnsafeBufferPointer<Float>, rows: Int, into output: UnsafeMutableBufferPointer<Float>,
        inner: UnsafeMutableBufferPointer<Float>, gated: UnsafeMutableBufferPointer<Float>, pool: ComputePool
    ) {
        switch self {
        case .activated(let fc1, let activation, let fc2):
            let hidden = UnsafeMutableBufferPointer(rebasing: inner[0..<(rows * fc1.outFeatures)])
            fc1.apply(input, rows: rows, into: hidden, pool: pool)
            activate(activation, hidden, pool: pool)
            fc2.apply(UnsafeBufferPointer(hidden), rows: rows, into: output, pool: pool)
        case .swiglu(let gate, let up, let down):
            let count = rows * gate.outFeatures
            let gates = UnsafeMutableBufferPointer(rebasing: inner[0..<count])
            let ups = UnsafeMutableBufferPointer(rebasing: gated[0..<count])
            gate.apply(input, rows: rows, into: gates, pool: pool)
            up.apply(input, rows: rows, into: ups, pool: pool)
            pool.parallelFor(count, minimumChunk: 4096) { range in
                Kernels.swiglu(
                    gate: UnsafeBufferPointer(rebasing: gates[range]), up: UnsafeBufferPointer(rebasing: ups[range]),
                    into: UnsafeMutableBufferPointer(rebasing: gates[range]))
            }
            down.apply(UnsafeBufferPointer(gates), rows: rows, into: output, pool: pool)
        }
    }
}

/// One pre-norm block of a Qwen vision tower: `x += proj(attention(rope(qkv(norm1(x))))); x += mlp(norm2(x))`, the
/// attention non-causal within each segment (an image's temporal group, or a Qwen2.5-VL window).
///
/// Port of `Qwen2VLVisionBlock` / `Qwen2_5_VLVisionBlock` / `Qwen3VLVisionBlock` / `Qwen3_5VisionBlock` with their
/// `VisionAttention` (`qkv.reshape(seq, 3, heads, -1)`, `apply_rotary_pos_emb_vision` in fp32, scale
/// `head_dim^-0.5`); qwen-architecture.md §3.1 item 3, §3.3 item 4.
struct VisionBlock: Sendable {
    /// Rows per pass through the MLP, so its wide intermediate stays small on large images.
    static let mlpRowChunk = 1024

    let norm1: VisionNorm
    let norm2: VisionNorm
    /// `attn.qkv`: `[3 * width, width]`; output features are `[q | k | v]`, each head-major.
    let qkv: Linear
    /// `attn.proj`.
    let proj: Linear
    let mlp: VisionMLP
    let heads: Int

    /// Loads `name.attn.qkv` and `name.attn.proj` (both with bias) around the tower's own norms and MLP.
    init(
        _ name: String, from store: WeightStore, heads: Int, norm1: VisionNorm, norm2: VisionNorm, mlp: VisionMLP,
        format: WeightFormat
    ) throws(ModelError) {
        let width = norm1.width
        self.norm1 = norm1
        self.norm2 = norm2
        qkv = try Linear(
            name + ".attn.qkv", from: store, inFeatures: width, outFeatures: 3 * width, hasBias: true, format: format)
        proj = try Linear(
            name + ".attn.proj", from: store, inFeatures: width, outFeatures: width, hasBias: true, format: format)
        self.mlp = mlp
        self.heads = heads
    }

    /// Runs the block in place on `x` (`[rows, width]`); each range of `segments` is one attention sequence.
    func apply(
        _ x: UnsafeMutableBufferPointer<Float>, rows: Int, rope: VisionRotaryTable.Rows, segments: [Range<Int>],
        workspace w: Workspace, pool: ComputePool
    ) {
        let width = norm1.width
        let headDim = width / heads
        norm1.apply(x.baseAddress!, rows: rows, into: w.normed.baseAddress!, pool: pool)
        qkv.apply(UnsafeBufferPointer(w.normed), rows: rows, into: w.qkv, pool: pool)  // [rows, 3, heads, headDim]
        // qkv.reshape(seq, 3, heads, -1).permute(1, 0, 2, 3).unbind(0), then apply_rotary_pos_emb_vision (fp32).
        let rotated = [w.queries, w.keys]
        rope.cos.withUnsafeBufferPointer { cos in
            rope.sin.withUnsafeBufferPointer { sin in
                pool.parallelFor(rows, minimumChunk: 16) { range in
                    for row in range {
                        let source = w.qkv.baseAddress! + row * 3 * width
                        let token = (row * width)..<((row + 1) * width)
                        let angles = (row * headDim)..<((row + 1) * headDim)
                        (w.values.baseAddress! + token.lowerBound).update(from: source + 2 * width, count: width)
                        for (part, target) in rotated.enumerated() {
                            (target.baseAddress! + token.lowerBound).update(from: source + part * width, count: width)
                            Kernels.ropeRotateHalf(
                                UnsafeMutableBufferPointer(rebasing: target[token]),
                                cos: UnsafeBufferPointer(rebasing: cos[angles]),
                                sin: UnsafeBufferPointer(rebasing: sin[angles]), heads: heads, headDim: headDim,
                                rotaryDim: headDim)
                        }
                    }
                }
            }
        }
        attend(workspace: w, width: width, segments: segments, pool: pool)  // [rows, heads, headDim]
        proj.apply(UnsafeBufferPointer(w.attended), rows: rows, into: w.normed, pool: pool)
        add(w.normed, to: x, count: rows * width, pool: pool)

        for start in stride(from: 0, to: rows, by: Self.mlpRowChunk) {
            let count = min(Self.mlpRowChunk, rows - start)
            let chunk = (start * width)..<((start + count) * width)
            norm2.apply(x.baseAddress! + chunk.lowerBound, rows: count, into: w.normed.baseAddress!, pool: pool)
            let output = UnsafeMutableBufferPointer(rebasing: w.attended[0..<chunk.count])
            mlp.apply(
                UnsafeBufferPointer(rebasing: w.normed[0..<chunk.count]), rows: count, into: output, inner: w.inner,
                gated: w.gated, pool: pool)
            add(output, to: UnsafeMutableBufferPointer(rebasing: x[chunk]), count: chunk.count, pool: pool)
        }
    }

    /// Non-causal attention within each segment, scale `headDim^-0.5`, heads split over the pool. Every query of a
    /// segment sees the same keys, so the scores and the weighted sum run on the matrix multiply
    /// (`Kernels.matrixAttention`), several times faster than the one-query-at-a-time kernel the decoders use.
    private func attend(workspace w: Workspace, width: Int, segments: [Range<Int>], pool: ComputePool) {
        let headDim = width / heads
        let scale = Float(1 / Double(headDim).squareRoot())
        let scratchSize =
            segments.map { Kernels.matrixAttentionScratchSize(tokens: $0.count, headDim: headDim) }.max() ?? 0
        pool.parallelFor(heads) { headRange in
            let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: scratchSize)
            defer { scratch.deallocate() }
            for segment in segments {
                let offset = segment.lowerBound * width
                Kernels.matrixAttention(
                    queries: w.queries.baseAddress! + offset, keys: w.keys.baseAddress! + offset,
                    values: w.values.baseAddress! + offset, output: w.attended.baseAddress! + offset,
                    tokens: segment.count, heads: heads, headDim: headDim, scale: scale, headRange: headRange,
                    scratch: scratch)
            }
        }
    }

    /// The per-call buffers of the blocks, sized for `rows` patches; every block of a tower reuses them.
    struct Workspace {
        /// `[rows, width]`: a norm's output, then the attention projection's.
        let normed: UnsafeMutableBufferPointer<Float>
        /// `[rows, 3 * width]`.
        let qkv: UnsafeMutableBufferPointer<Float>
        /// `[rows, heads, headDim]` each, rotated.
        let queries: UnsafeMutableBufferPointer<Float>
        let keys: UnsafeMutableBufferPointer<Float>
        let values: UnsafeMutableBufferPointer<Float>
        /// `[rows, heads, headDim]`: the attention output, then an MLP chunk's output.
        let attended: UnsafeMutableBufferPointer<Float>
        /// `[mlpRowChunk, intermediateSize]` each.
        let inner: UnsafeMutableBufferPointer<Float>
        let gated: UnsafeMutableBufferPointer<Float>

        init(rows: Int, width: Int, intermediateSize: Int) {
            func buffer(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
                let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
                buffer.initialize(repeating: 0)
                return buffer
            }
            normed = buffer(rows * width)
            qkv = buffer(rows * 3 * width)
            queries = buffer(rows * width)
            keys = buffer(rows * width)
            values = buffer(rows * width)
            attended = buffer(rows * width)
            let chunk = min(rows, VisionBlock.mlpRowChunk) * intermediateSize
            inner = buffer(chunk)
            gated = buffer(chunk)
        }

        func deallocate() {
            for buffer in [normed, qkv, queries, keys, values, attended, inner, gated] { buffer.deallocate() }
        }
    }
}

/// A patch merger: the norm, then each 2×2 block of patches viewed as one `4 * width` row, `fc1` → GELU (erf) →
/// `fc2`.
///
/// Port of `Qwen2VLPatchMerger` / `Qwen2_5_VLPatchMerger` (`ln_q`, `mlp.0`, `mlp.2`) and `Qwen3VLVisionPatchMerger`
/// (`norm`, `linear_fc1`, `linear_fc2`). The norm's width says where it sits: `width` normalises each patch before
/// the shuffle (every final merger), `4 * width` each merged row after it (`use_postshuffle_norm`, Qwen3-VL's
/// DeepStack mergers). Either way it normalises consecutive runs of `norm.width` floats, so one code path serves both.
struct VisionPatchMerger: Sendable {
    let norm: VisionNorm
    /// `[4 * width, 4 * width]`.
    let fc1: Linear
    /// `[outputSize, 4 * width]`.
    let fc2: Linear

    /// `[patches, width]` → `[patches / 4, outputSize]`.
    func apply(_ hidden: UnsafeBufferPointer<Float>, pool: ComputePool) -> [Float] {
        var normed = [Float](repeating: 0, count: hidden.count)
        normed.withUnsafeMutableBufferPointer { target in
            norm.apply(hidden.baseAddress!, rows: hidden.count / norm.width, into: target.baseAddress!, pool: pool)
        }
        let groups = hidden.count / fc1.inFeatures
        var inner = fc1.apply(normed, rows: groups, pool: pool)  // [patches / 4, 4 * width]
        inner.withUnsafeMutableBufferPointer { activate(.geluErf, $0, pool: pool) }
        return fc2.apply(inner, rows: groups, pool: pool)
    }
}

/// `x[i] += y[i]` for `count` floats, split over the pool.
private func add(
    _ y: UnsafeMutableBufferPointer<Float>, to x: UnsafeMutableBufferPointer<Float>, count: Int, pool: ComputePool
) {
    pool.parallelFor(count, minimumChunk: 4096) { range in
        for i in range { x[i] += y[i] }
    }
}

/// An activation in place over all of `values`, split over the pool.
private func activate(_ activation: Kernels.Activation, _ values: UnsafeMutableBufferPointer<Float>, pool: ComputePool)
{
    pool.parallelFor(values.count, minimumChunk: 4096) { range in
        Kernels.activate(
            activation, UnsafeBufferPointer(rebasing: values[range]),
            into: UnsafeMutableBufferPointer(rebasing: values[range]))
    }
}
