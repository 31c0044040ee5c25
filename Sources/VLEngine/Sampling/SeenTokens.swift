/// The distinct token ids an item has seen so far, for the repetition penalty.
///
/// transformers penalises every id in `input_ids`: the whole prompt (system text, image pad tokens and all) and the
/// tokens generated so far, each id once however often it occurs (`RepetitionPenaltyLogitsProcessor` gathers and
/// scatters by id). Left padding of a batch is excluded there (`prompt_ignore_length`); vlbatch does not pad, so an
/// item's own tokens are exactly that set. A bit per vocabulary entry answers "seen?" in constant time, and the
/// ids in first-seen order let a step touch only the seen entries of a 248k-entry row.
public struct SeenTokens: Sendable, Equatable {
    /// The distinct ids, in the order they were first seen.
    public private(set) var ids: [Int32] = []
    private var bits: [UInt64]
    /// The size of the vocabulary the ids index into.
    public let vocabularySize: Int

    /// An empty set over a vocabulary of `vocabularySize` ids.
    public init(vocabularySize: Int) {
        precondition(vocabularySize > 0, "a vocabulary has at least one token")
        self.vocabularySize = vocabularySize
        bits = Array(repeating: 0, count: (vocabularySize + 63) / 64)
    }

    /// A set holding `tokens` (typically the prompt).
    public init(vocabularySize: Int, tokens: some Sequence<Int32>) {
        self.init(vocabularySize: vocabularySize)
        insert(contentsOf: tokens)
    }

    /// Adds `token`. Ids outside the vocabulary (an embedding table larger than the output head, or negative) are
    /// ignored, as transformers ignores ids past the logits row: the model cannot produce them.
    public mutating func insert(_ token: Int32) {
        guard token >= 0, Int(token) < vocabularySize else { return }
        let word = Int(token) >> 6
        let mask: UInt64 = 1 << UInt64(token & 63)
        guard bits[word] & mask == 0 else { return }
        bits[word] |= mask
        ids.append(token)
    }

    /// Adds every token of `tokens`.
    public mutating func insert(contentsOf tokens: some Sequence<Int32>) {
        for token in tokens { insert(token) }
    }

    /// Whether `token` has been seen.
    public func contains(_ token: Int32) -> Bool {
        guard token >= 0, Int(token) < vocabularySize else { return false }
        return bits[Int(token) >> 6] & (1 << UInt64(token & 63)) != 0
    }

    /// The number of distinct ids seen.
    public var count: Int { ids.count }
}
