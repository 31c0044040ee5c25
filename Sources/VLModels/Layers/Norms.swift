import VLCore

/// RMSNorm over the last dimension, in one of the variants the Qwen families use (qwen-architecture.md §1.2).
public struct RMSNorm: Sendable {
    /// `[width]` (ignored by `.unweighted`).
    public let weight: [Float]
    /// Added to the mean square.
    public let epsilon: Float
    /// How the weight applies.
    public let variant: Kernels.RMSNormVariant

    /// A norm with the given weight.
    public init(weight: [Float], epsilon: Float, variant: Kernels.RMSNormVariant) {
        self.weight = weight
        self.epsilon = epsilon
        self.variant = variant
    }

    /// Loads `name.weight` of `width` elements.
    public init(
        _ name: String, from store: WeightStore, width: Int, epsilon: Float, variant: Kernels.RMSNormVariant = .standard
    ) throws(ModelError) {
        self.init(weight: try store.floats(name + ".weight", shape: [width]), epsilon: epsilon, variant: variant)
    }

    /// The normalised width.
    public var width: Int { weight.count }

    /// Normalises the rows of `input` (`[rows, width]`) into `output` (may be the same memory).
    public func apply(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            Kernels.rmsNorm(input, weight: w, into: output, width: width, epsilon: epsilon, variant: variant)
        }
    }
}

/// LayerNorm (`torch.nn.LayerNorm`, with weight and bias) over the last dimension.
public struct LayerNorm: Sendable {
    /// `[width]`.
    public let weight: [Float]
    /// `[width]`.
    public let bias: [Float]
    /// Added to the variance.
    public let epsilon: Float

    /// Loads `name.weight` and `name.bias` of `width` elements.
    public init(_ name: String, from store: WeightStore, width: Int, epsilon: Float) throws(ModelError) {
        weight = try store.floats(name + ".weight", shape: [width])
        bias = try store.floats(name + ".bias", shape: [width])
        self.epsilon = epsilon
    }

    /// The normalised width.
    public var width: Int { weight.count }

    /// Normalises the rows of `input` (`[rows, width]`) into `output` (may be the same memory).
    public func apply(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Kernels.layerNorm(input, weight: w, bias: b, into: output, width: width, epsilon: epsilon)
            }
        }
    }
}
