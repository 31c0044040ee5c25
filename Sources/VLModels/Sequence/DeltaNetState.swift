/// What a sequence carries through the Gated DeltaNet layers of a hybrid model instead of a KV cache: per layer the
/// last `convKernel − 1` inputs of the causal convolution and the fp32 recurrent state of every value head. Its size
/// does not grow with the sequence.
public struct DeltaNetState: Sendable {
    /// Convolution channels per token.
    public let channels: Int
    /// Inputs kept per channel: the kernel's taps minus one.
    public let history: Int
    /// Floats of recurrent state per layer: value heads × key width × value width.
    public let recurrentSize: Int
    /// Per layer, `[history, channels]`: the most recent pre-convolution inputs, oldest first (zeros before the
    /// sequence starts, as the convolution's left padding).
    var convolution: [[Float]]
    /// Per layer, `[valueHeads, keyDim, valueDim]`.
    var recurrent: [[Float]]

    /// No DeltaNet layers: the state of a model without them.
    public init() { self.init(layers: 0, channels: 0, history: 0, recurrentSize: 0) }

    /// A zero state for `layers` DeltaNet layers.
    public init(layers: Int, channels: Int, history: Int, recurrentSize: Int) {
        self.channels = channels
        self.history = history
        self.recurrentSize = recurrentSize
        convolution = Array(repeating: [Float](repeating: 0, count: history * channels), count: layers)
        recurrent = Array(repeating: [Float](repeating: 0, count: recurrentSize), count: layers)
    }

    /// Bytes held, the same at every length.
    public var byteCount: Int { (convolution.count * history * channels + recurrent.count * recurrentSize) * 4 }
}
