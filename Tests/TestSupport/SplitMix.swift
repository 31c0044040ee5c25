import Foundation

/// A small deterministic generator (SplitMix64) for test data, so failures reproduce.
public struct SplitMix {
    /// The generator state.
    public var state: UInt64

    /// A generator starting from `state`.
    public init(state: UInt64) { self.state = state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-scale, scale).
    public mutating func float(_ scale: Float = 1) -> Float {
        scale * Float(Int64(bitPattern: next()) >> 40) / Float(1 << 23)
    }

    /// `count` values uniform in [-scale, scale).
    public mutating func floats(_ count: Int, scale: Float = 1) -> [Float] { (0..<count).map { _ in float(scale) } }

    /// Uniform in (0, 1].
    public mutating func unit() -> Double { Double((next() >> 11) + 1) * 0x1p-53 }

    /// N(0, 1) by Box–Muller.
    public mutating func gaussian() -> Float { Float((-2 * log(unit())).squareRoot() * cos(2 * Double.pi * unit())) }
}
