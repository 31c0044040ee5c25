/// The shape of a dense Qwen text decoder: Qwen2 (Qwen2-VL, Qwen2.5-VL; qwen-architecture.md §5.1) and Qwen3
/// (Qwen3-VL; §5.2). They differ in the q/k/v biases, the per-head q/k norms, the M-RoPE layout and whether the head
/// width is derived or given.
public struct DenseTextConfig: Sendable, Equatable {
    /// Model width.
    public var hiddenSize: Int
    /// Decoder layers.
    public var layers: Int
    /// Query heads.
    public var heads: Int
    /// Key/value heads (grouped-query attention).
    public var kvHeads: Int
    /// Width of one attention head (hidden / heads in Qwen2; given in Qwen3).
    public var headDim: Int
    /// MLP width.
    public var intermediateSize: Int
    /// Rows of the embedding and of `lm_head`.
    public var vocabularySize: Int
    /// RMSNorm epsilon.
    public var rmsNormEpsilon: Float
    /// Rotary base.
    public var ropeTheta: Double
    /// Frequencies per axis (temporal, height, width); they sum to `headDim / 2`.
    public var mropeSection: [Int]
    /// Chunked (Qwen2) or interleaved (Qwen3) assignment of frequencies to axes.
    public var ropeLayout: MultimodalRotary.Layout
    /// Whether q/k/v projections have biases (Qwen2 yes, Qwen3 no).
    public var attentionBias: Bool
    /// Whether queries and keys go through a per-head RMSNorm before the rotary embedding (Qwen3).
    public var queryKeyNorm: Bool
    /// Whether `lm_head` is the embedding matrix.
    public var tieWordEmbeddings: Bool
}
