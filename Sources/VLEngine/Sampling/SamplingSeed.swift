/// The seed of one item's draws, derived from the run seed and the item's id alone.
///
/// vlbatch promises identical output whatever the batch size, thread count or order in which items are scheduled,
/// so a draw may depend only on (run seed, item id, step), never on a generator shared across items. The scheme,
/// fixed because golden files depend on it:
///
/// 1. `h = FNV-1a-64(UTF-8 bytes of the item id)` (offset basis 0xcbf29ce484222325, prime 0x100000001b3). The id's
///    bytes are taken as given: no Unicode normalisation. Swift's `Hasher` is not used: it is seeded per process.
/// 2. item seed `s = mix(run ^ mix(h))`, where `mix` is SplitMix64's finaliser (Steele, Lea and Flood 2014; the
///    constants of Vigna's `splitmix64.c`).
/// 3. the generator of step `n` (0 = the first generated token) is a `SplitMix64` whose state is
///    `mix(s &+ (n + 1) &* 0x9e3779b97f4a7c15)`; a step normally takes one 64-bit value from it, and the
///    uniform number of a draw is its top 53 bits over 2^53.
public struct SamplingSeed: Sendable, Hashable, Codable {
    /// The item seed `s`.
    public let value: UInt64

    /// The seed of the item `item` in a run seeded with `run`.
    public init(run: UInt64, item: String) {
        value = SplitMix64.mix(run ^ SplitMix64.mix(Self.fnv1a64(item)))
    }

    /// A seed given directly, for tests and for callers that derive item seeds their own way.
    public init(value: UInt64) { self.value = value }

    /// The generator for step `step` of this item: the same values for the same (seed, step), always.
    public func generator(step: Int) -> SplitMix64 {
        precondition(step >= 0, "a generation step is 0 or above")
        return SplitMix64(state: SplitMix64.mix(value &+ (UInt64(step) &+ 1) &* SplitMix64.increment))
    }

    /// 64-bit FNV-1a of the string's UTF-8 bytes.
    static func fnv1a64(_ string: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in string.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }
}

/// SplitMix64: a tiny, fast generator with a 64-bit state, good enough for sampling and trivially reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The state, advanced by the golden-ratio increment before each output.
    public var state: UInt64

    /// The Weyl-sequence increment, 2^64 / golden ratio.
    static let increment: UInt64 = 0x9e37_79b9_7f4a_7c15

    /// A generator starting from `state`.
    public init(state: UInt64) { self.state = state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }

    /// A uniform number in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// SplitMix64's output function (a bijection on 64-bit values).
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
