import Foundation

/// Multimodal rotary embedding (M-RoPE) of the text decoders: every frequency takes its angle from one of the three
/// position axes (qwen-architecture.md §4.3).
///
/// `inv_freq[i] = 1 / θ^(2i / D)` for `i < D / 2`, `D` the rotary width; the cos / sin vectors are `concat(f, f)`,
/// pairing dimension `i` with `i + D / 2` (rotate-half). Angles and their cos / sin are computed in fp32, as
/// transformers does with autocast disabled.
public struct MultimodalRotary: Sendable {
    /// How frequencies are assigned to the temporal, height and width axes.
    public enum Layout: Sendable, Equatable {
        /// Qwen2-VL / Qwen2.5-VL: the first `section[0]` frequencies follow the temporal axis, the next `section[1]`
        /// the height, the rest the width.
        case chunked
        /// Qwen3-VL / Qwen3.5: frequency `i` follows the height when `i % 3 == 1` and `i < 3 · section[1]`, the
        /// width when `i % 3 == 2` and `i < 3 · section[2]`, and the temporal axis otherwise.
        case interleaved
    }

    /// Rotated dimensions per head (`D`).
    public let rotaryDim: Int
    private let inverseFrequencies: [Float]
    /// The axis (0 temporal, 1 height, 2 width) of each frequency.
    private let axes: [Int]

    /// A table for `rotaryDim` dimensions with base `theta` and three axis `section` sizes summing to `rotaryDim / 2`.
    public init(rotaryDim: Int, theta: Double, section: [Int], layout: Layout) {
        precondition(rotaryDim > 0 && rotaryDim % 2 == 0, "the rotary width must be even")
        precondition(section.count == 3 && section.reduce(0, +) == rotaryDim / 2, "sections must sum to rotaryDim / 2")
        self.rotaryDim = rotaryDim
        let half = rotaryDim / 2
        // transformers: base ** (arange(0, D, 2).float() / D), then 1.0 / that, both in fp32.
        inverseFrequencies = (0..<half).map { i in
            let exponent = Float(2 * i) / Float(rotaryDim)
            return 1 / Float(pow(theta, Double(exponent)))
        }
        axes = (0..<half).map { i in
            switch layout {
            case .chunked:
                return i < section[0] ? 0 : (i < section[0] + section[1] ? 1 : 2)
            case .interleaved:
                if i % 3 == 1 && i < 3 * section[1] { return 1 }
                if i % 3 == 2 && i < 3 * section[2] { return 2 }
                return 0
            }
        }
    }

    /// Writes the `rotaryDim` cos and sin values for a token at `(temporal, height, width)`.
    public func fill(
        temporal: Int, height: Int, width: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>
    ) {
        let positions = (Float(temporal), Float(height), Float(width))
        let half = rotaryDim / 2
        for i in 0..<half {
            let position = axes[i] == 0 ? positions.0 : (axes[i] == 1 ? positions.1 : positions.2)
            let angle = position * inverseFrequencies[i]
            let (c, s) = (Foundation.cos(angle), Foundation.sin(angle))
            cos[i] = c
            cos[i + half] = c
            sin[i] = s
            sin[i + half] = s
        }
    }
}
