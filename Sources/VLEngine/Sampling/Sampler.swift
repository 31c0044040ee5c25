import VLCore

/// Chooses an item's next token from its logits row: transformers' logits processors, then argmax or a seeded draw.
///
/// What it computes is transformers' `_sample` step (`generation/utils.py`): `logits_processor(input_ids, logits)`,
/// then `argmax` (greedy) or a draw from `softmax` of the processed row. The processors, their order and their
/// semantics are in `LogitsProcessors.swift`. The draw cannot repeat `torch.multinomial`'s stream; it takes its
/// uniform number from `SamplingSeed`, so token n of an item is the same whatever else is in the batch.
///
/// A sampler holds scratch storage, reused from call to call, and no per-item state: the items' `SeenTokens` and
/// seeds are passed in, so one sampler serves every item of a batch that shares its parameters, one row at a time.
/// Once a warper has cut the row (top-k, typically 20 or 50 entries left), everything after it touches only the
/// entries still in play, so a 248k-entry vocabulary is read a few times per token and never sorted.
public struct Sampler: Sendable {
    /// The parameters this sampler applies.
    public let parameters: SamplingParameters
    /// The length of the logits rows it accepts.
    public let vocabularySize: Int
    /// `parameters.processors`, computed once.
    let processors: [LogitsProcessorKind]
    /// Whether every entry of the row is still in play; false once a warper has cut the row.
    var keepsAll = true
    /// While `keepsAll` is false, the ids still in play, ascending; every other entry of the row is -inf.
    var kept: [Int32] = []
    /// Per entry in play (in the order of `kept`, or of the row), its exponential or probability.
    var exponentials: [Float] = []
    /// Top-p's candidates, sorted as `torch.sort` would order them.
    var candidates: [Candidate] = []
    /// Top-k's threshold finder.
    var selection = KthLargest()

    /// A sampler for rows of `vocabularySize` logits (the model's output head, which can exceed the tokenizer's
    /// vocabulary).
    public init(parameters: SamplingParameters, vocabularySize: Int) {
        precondition(vocabularySize > 0, "a logits row has at least one entry")
        self.parameters = parameters
        self.vocabularySize = vocabularySize
        processors = parameters.processors
    }

    /// Applies the processors to `logits` in place; a token a warper removes is left at -inf, as in transformers.
    ///
    /// `seen` holds the item's prompt and generated tokens for the repetition penalty.
    public mutating func process(_ logits: UnsafeMutableBufferPointer<Float>, seen: SeenTokens) {
        precondition(logits.count == vocabularySize, "logits row of \(logits.count), sampler for \(vocabularySize)")
        keepsAll = true
        kept.removeAll(keepingCapacity: true)
        for kind in processors {
            switch kind {
            case .repetitionPenalty: applyRepetitionPenalty(to: logits, seen: seen)
            case .temperature: applyTemperature(to: logits)
            case .topK: applyTopK(to: logits)
            case .topP: applyTopP(to: logits)
            case .minP: applyMinP(to: logits)
            }
        }
    }

    /// `process(_:seen:)` on an array.
    public mutating func process(_ logits: inout [Float], seen: SeenTokens) {
        logits.withUnsafeMutableBufferPointer { process($0, seen: seen) }
    }

    /// The next token of an item at generation step `step` (0 for the first generated token): the processed row's
    /// argmax, or a draw from it with the generator `seed.generator(step: step)`.
    ///
    /// `logits` is left processed, so `LogSoftmax.logProbability(of:in:)` on it gives the token's log-probability
    /// under the distribution it was chosen from (transformers' `scores`).
    public mutating func next(
        _ logits: UnsafeMutableBufferPointer<Float>, seen: SeenTokens, seed: SamplingSeed, step: Int
    ) -> Int32 {
        process(logits, seen: seen)
        guard parameters.doSample else { return Self.argmax(UnsafeBufferPointer(logits)) }
        var generator = seed.generator(step: step)
        return draw(from: UnsafeBufferPointer(logits), uniform: generator.nextUniform())
    }

    /// `next(_:seen:seed:step:)` on an array.
    public mutating func next(_ logits: inout [Float], seen: SeenTokens, seed: SamplingSeed, step: Int) -> Int32 {
        logits.withUnsafeMutableBufferPointer { next($0, seen: seen, seed: seed, step: step) }
    }

    /// The index of the largest value, the lowest index among equal ones (`torch.argmax` returns the first maximal
    /// value); 0 when no value exceeds -inf. NaN entries are passed over.
    public static func argmax(_ row: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        var bestValue = -Float.infinity
        for index in row.indices where row[index] > bestValue {
            best = index
            bestValue = row[index]
        }
        return Int32(best)
    }

    /// The token whose cumulative probability, walking the entries in play by ascending id, first exceeds
    /// `uniform` (in [0, 1)); the argmax when the row has no probability mass (every entry -inf).
    ///
    /// Walking by id rather than by probability keeps the result independent of how ties were sorted.
    mutating func draw(from logits: UnsafeBufferPointer<Float>, uniform: Double) -> Int32 {
        let (count, total) = exponentiateEntriesInPlay(of: logits)
        guard total > 0, total.isFinite else { return Self.argmax(logits) }
        let target = uniform * total
        var cumulative = 0.0
        var lastPositive = -1
        for entry in 0..<count where exponentials[entry] > 0 {
            cumulative += Double(exponentials[entry])
            lastPositive = entry
            if cumulative > target { return Int32(id(ofEntry: entry)) }
        }
        // Rounding can leave the walk a hair short of `target` when `uniform` is within 2^-53 of 1.
        return Int32(id(ofEntry: lastPositive))
    }

    /// The number of entries in play: the whole row, or the kept ids.
    var entriesInPlay: Int { keepsAll ? vocabularySize : kept.count }

    /// The row index of entry `entry` in play.
    @inline(__always)
    func id(ofEntry entry: Int) -> Int { keepsAll ? entry : Int(kept[entry]) }

    /// Fills `exponentials[0..<count]` with `exp(logit - max)` of the entries in play and returns their count and
    /// sum; the maximum entry gets exactly 1.
    mutating func exponentiateEntriesInPlay(of logits: UnsafeBufferPointer<Float>) -> (count: Int, sum: Double) {
        let count = entriesInPlay
        if exponentials.count < count {
            exponentials = [Float](repeating: 0, count: count)
        }
        var maximum = -Float.infinity
        for entry in 0..<count where logits[id(ofEntry: entry)] > maximum {
            maximum = logits[id(ofEntry: entry)]
        }
        guard maximum.isFinite else {
            for entry in 0..<count { exponentials[entry] = 0 }
            return (count, 0)
        }
        let keepsAll = keepsAll
        let kept = kept
        let sum = exponentials.withUnsafeMutableBufferPointer { buffer in
            let shifted = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
            for entry in 0..<count {
                shifted[entry] = logits[keepsAll ? entry : Int(kept[entry])] - maximum
            }
            Kernels.exp(UnsafeBufferPointer(shifted), into: shifted)
            var sum = 0.0
            for value in shifted {
                sum += Double(value)
            }
            return sum
        }
        return (count, sum)
    }
}

/// A top-p candidate: its logit, row index and probability.
struct Candidate {
    var logit: Float
    var id: Int32
    var probability: Float
}
