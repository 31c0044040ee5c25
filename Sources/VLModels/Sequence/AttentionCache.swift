/// The keys and values a sequence has produced so far in every attention layer (the KV cache), in the layout the
/// attention kernel reads: per layer `[tokens, kvHeads, headDim]`, rotary embedding already applied to the keys.
public struct AttentionCache: Sendable {
    /// `kvHeads * headDim`: floats per token per layer, for keys and for values each.
    public let tokenWidth: Int
    private(set) var keys: [[Float]]
    private(set) var values: [[Float]]

    /// An empty cache for `layers` attention layers.
    public init(layers: Int, tokenWidth: Int) {
        self.tokenWidth = tokenWidth
        keys = Array(repeating: [], count: layers)
        values = Array(repeating: [], count: layers)
    }

    /// Attention layers.
    public var layers: Int { keys.count }

    /// Tokens held (the same in every layer once a forward pass has finished).
    public var count: Int { keys.first.map { $0.count / tokenWidth } ?? 0 }

    /// Bytes held by keys and values.
    public var byteCount: Int { keys.reduce(0) { $0 + $1.count * 2 * MemoryLayout<Float>.size } }

    /// Tokens cached in `layer`.
    func count(inLayer layer: Int) -> Int { keys[layer].count / tokenWidth }

    /// Appends `tokens` tokens' keys and values (`[tokens, tokenWidth]` each) to `layer`.
    mutating func append(
        layer: Int, keys newKeys: UnsafeBufferPointer<Float>, values newValues: UnsafeBufferPointer<Float>
    ) {
        precondition(newKeys.count == newValues.count && newKeys.count % tokenWidth == 0, "ragged key/value rows")
        keys[layer].append(contentsOf: newKeys)
        values[layer].append(contentsOf: newValues)
    }

    /// Calls `body` with the keys and values of `layer`.
    func withLayer<Result>(
        _ layer: Int, _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Result
    ) -> Result {
        keys[layer].withUnsafeBufferPointer { k in values[layer].withUnsafeBufferPointer { v in body(k, v) } }
    }
}
