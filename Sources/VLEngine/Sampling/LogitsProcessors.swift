// The logits processors of transformers 5.23 (`generation/logits_process.py`) that vlbatch supports, one method
// each, with the reference's arithmetic: fp32 throughout, Python scalars rounded to fp32 before they meet the row
// (as torch does for a tensor-scalar operation), removed tokens set to -inf (`filter_value`). Their order is
// `SamplingParameters.processors`, taken from `GenerationMixin._get_logits_processor`. `min_tokens_to_keep` is 1
// (transformers uses more only for beam search).

extension Sampler {
    /// `RepetitionPenaltyLogitsProcessor`: every id seen so far, once,
    /// `torch.where(score < 0, score * penalty, score / penalty)`.
    mutating func applyRepetitionPenalty(to logits: UnsafeMutableBufferPointer<Float>, seen: SeenTokens) {
        let penalty = Float(parameters.repetitionPenalty)
        for token in seen.ids where Int(token) < logits.count {
            let score = logits[Int(token)]
            logits[Int(token)] = score < 0 ? score * penalty : score / penalty
        }
    }

    /// `TemperatureLogitsWarper`: `scores / temperature`.
    mutating func applyTemperature(to logits: UnsafeMutableBufferPointer<Float>) {
        let temperature = Float(parameters.temperature)
        for entry in 0..<entriesInPlay {
            logits[id(ofEntry: entry)] /= temperature
        }
    }

    /// `TopKLogitsWarper`: `scores < torch.topk(scores, k)[0][..., -1, None]` removed, so every token tied with the
    /// k-th largest value stays (more than k tokens can remain). `k = min(max(top_k, 1), vocabulary)`.
    mutating func applyTopK(to logits: UnsafeMutableBufferPointer<Float>) {
        let k = min(max(parameters.topK, 1), vocabularySize)
        let count = entriesInPlay
        // With k or fewer entries in play the k-th largest of the row is the smallest of them, or -inf: none goes.
        guard count > k else { return }
        selection.reset(k: k)
        for entry in 0..<count {
            selection.offer(logits[id(ofEntry: entry)])
        }
        let threshold = selection.value
        var survivors = 0
        for entry in 0..<count {
            let token = id(ofEntry: entry)
            if logits[token] < threshold {
                logits[token] = -.infinity
            } else {
                // Survivors are written over the entries already read (`kept` ascending, or the row's order).
                if keepsAll { kept.append(Int32(token)) } else { kept[survivors] = Int32(token) }
                survivors += 1
            }
        }
        if !keepsAll { kept.removeLast(kept.count - survivors) }
        keepsAll = false
    }

    /// `TopPLogitsWarper`: sort ascending, `cumsum(softmax)`, remove where the cumulative probability is at most
    /// `1 - top_p` (as fp32, as torch compares it), always keep the last (most likely) token.
    ///
    /// Only the head of the distribution needs ordering: entries less likely than a threshold `t` form a prefix of
    /// the ascending order, and if their total mass is already at most `1 - top_p` every cumulative sum inside that
    /// prefix is too, so they all go unsorted and only the rest is sorted. `t` starts at 1/1000 of the top
    /// probability and drops until the prefix qualifies (at `t = 0` the prefix is empty). torch's `cumsum` of fp32
    /// accumulates in double and rounds each partial sum to fp32; so does this.
    ///
    /// Ties: `torch.sort` is not stable on the CPU (ties come out in an order that depends on the row), so when
    /// tokens of equal logit straddle the cut transformers keeps an arbitrary subset of them. Here the order is
    /// fixed: among equal logits the lower id counts as the more likely (as in greedy's first-max rule), so the
    /// higher ids go first.
    mutating func applyTopP(to logits: UnsafeMutableBufferPointer<Float>) {
        let limit = Float(1 - parameters.topP)
        let count = normaliseEntriesInPlay(of: logits)
        var threshold: Float = 0
        for entry in 0..<count {
            threshold = max(threshold, exponentials[entry] / 1000)
        }
        var tailMass = 0.0
        while true {
            tailMass = 0
            for entry in 0..<count where exponentials[entry] < threshold {
                tailMass += Double(exponentials[entry])
            }
            if Float(tailMass) <= limit { break }
            threshold = threshold < 1e-30 ? 0 : threshold / 10000
        }
        candidates.removeAll(keepingCapacity: true)
        for entry in 0..<count {
            let token = id(ofEntry: entry)
            let probability = exponentials[entry]
            if probability < threshold {
                logits[token] = -.infinity
            } else {
                candidates.append(Candidate(logit: logits[token], id: Int32(token), probability: probability))
            }
        }
        // torch.sort(scores, descending=False), ties by descending id (see above).
        candidates.sort { $0.logit < $1.logit || ($0.logit == $1.logit && $0.id > $1.id) }
        var cumulative = tailMass
        var removed = 0
        while removed < candidates.count - 1 {
            cumulative += Double(candidates[removed].probability)
            guard Float(cumulative) <= limit else { break }
            logits[Int(candidates[removed].id)] = -.infinity
            removed += 1
        }
        kept.removeAll(keepingCapacity: true)
        for candidate in candidates[removed...] {
            kept.append(candidate.id)
        }
        kept.sort()
        keepsAll = false
    }

    /// `MinPLogitsWarper`: `probs = softmax(scores)`, remove `probs < min_p * probs.max()` (an fp32 product).
    mutating func applyMinP(to logits: UnsafeMutableBufferPointer<Float>) {
        let count = normaliseEntriesInPlay(of: logits)
        var top: Float = 0
        for entry in 0..<count where exponentials[entry] > top {
            top = exponentials[entry]
        }
        let threshold = Float(parameters.minP) * top
        let wasKeepingAll = keepsAll
        var survivors = 0
        for entry in 0..<count {
            let token = id(ofEntry: entry)
            if exponentials[entry] < threshold {
                logits[token] = -.infinity
            } else {
                if wasKeepingAll { kept.append(Int32(token)) } else { kept[survivors] = Int32(token) }
                survivors += 1
            }
        }
        if !wasKeepingAll { kept.removeLast(kept.count - survivors) }
        keepsAll = false
    }

    /// Fills `exponentials[0..<count]` with the softmax probabilities of the entries in play (`exp(x - max)` times
    /// the reciprocal of the sum, as torch's CPU softmax computes them) and returns `count`.
    private mutating func normaliseEntriesInPlay(of logits: UnsafeMutableBufferPointer<Float>) -> Int {
        let (count, sum) = exponentiateEntriesInPlay(of: UnsafeBufferPointer(logits))
        let reciprocal = sum > 0 ? 1 / Float(sum) : 0
        for entry in 0..<count {
            exponentials[entry] *= reciprocal
        }
        return count
    }
}
