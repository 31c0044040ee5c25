import Foundation
import TestSupport
import Testing
import VLCore

// Tolerances. Every ISA runs the same operations in the same order (dot products in the 16-lane order of
// vl_kernels.h, vl_exp's fixed operation sequence, element-wise IEEE steps), so every fast ISA is compared with the scalar
// reference bit for bit, and so are head-range splits and decode-versus-prefill rows.
//
// The scalar online-softmax kernel is compared with a naive two-pass reference in Double (full score row, max, exp,
// sum, divide, P v), per (query, head), with u = 2^-24:
// - each score s_j has absolute error at most δ_j = (ceil(hd / 16) + 6) u · scale · Σ_d |q_d k_jd| (fused dot in 16
//   lanes plus the halving tree, then the multiply by scale); Δ = max_j δ_j;
// - p_j = exp(s_j - m) then has relative error at most 2Δ + (R + 2) u, R = max_j (m - s_j) (rounding of the
//   difference, ≤ 1 ulp of vl_exp); each rescale by c rounds acc and l once more (at most one per tile);
// - perturbing every weight of a convex combination by a relative ε moves it by at most 2ε · max|v|; the sums of l and
//   of p v over n keys add n u each, the final divide one u.
// So |out - ref| ≤ maxV · (2 (2Δ + (R + tiles + 2) u) + (2n + 1) u), maxV = max |v| over the visible keys; the tests
// allow twice that. In practice the error is far smaller (the test also reports it).

private let u = 0x1p-24
private let tile = Kernels.attentionKeyTile

struct Shape: Sendable, CustomTestStringConvertible {
    var headDim: Int
    var heads: Int
    var kvHeads: Int
    var queries: Int
    var keys: Int
    var causal: Bool

    var mask: Kernels.AttentionMask { causal ? .causal(queryStart: keys - queries) : .none }
    var testDescription: String {
        "hd \(headDim) H \(heads)/\(kvHeads) Tq \(queries) Tk \(keys) \(causal ? "causal" : "full")"
    }
}

private let shapes: [Shape] = {
    var result: [Shape] = []
    for headDim in [16, 64, 80, 128] {
        for (heads, kvHeads) in [(2, 2), (4, 2), (8, 1)] {
            for (queries, keys) in [(1, 1), (1, 37), (5, 5), (7, 300)] {
                for causal in [false, true] {
                    result.append(
                        Shape(
                            headDim: headDim, heads: heads, kvHeads: kvHeads, queries: queries, keys: keys,
                            causal: causal))
                }
            }
        }
    }
    return result
}()

private struct Inputs {
    var q: [Float]  // [queries, heads, headDim]
    var k: [Float]  // [keys, kvHeads, headDim]
    var v: [Float]  // [keys, kvHeads, headDim]

    init(_ shape: Shape, seed: UInt64) {
        var rng = SplitMix(state: seed)
        // Amplitude 2 spreads the scores over several units, so the softmax is neither flat nor one-hot.
        q = (0..<(shape.queries * shape.heads * shape.headDim)).map { _ in 2 * rng.gaussian() }
        k = (0..<(shape.keys * shape.kvHeads * shape.headDim)).map { _ in 2 * rng.gaussian() }
        v = (0..<(shape.keys * shape.kvHeads * shape.headDim)).map { _ in rng.gaussian() }
    }
}

private func scale(_ shape: Shape) -> Float { 1 / Float(shape.headDim).squareRoot() }

/// Runs the kernel over `ranges` of heads (each call with its own scratch); untouched outputs stay NaN.
private func attention(
    _ shape: Shape, _ inputs: Inputs, mask: Kernels.AttentionMask? = nil, ranges: [Range<Int>]? = nil,
    isa: InstructionSet
) -> [Float] {
    var out = [Float](repeating: .nan, count: shape.queries * shape.heads * shape.headDim)
    var scratch = [Float](repeating: .nan, count: Kernels.attentionScratchSize(headDim: shape.headDim))
    inputs.q.withUnsafeBufferPointer { q in
        inputs.k.withUnsafeBufferPointer { k in
            inputs.v.withUnsafeBufferPointer { v in
                out.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { s in
                        for range in ranges ?? [0..<shape.heads] {
                            Kernels.attention(
                                queries: q.baseAddress!, keys: k.baseAddress!, values: v.baseAddress!,
                                output: o.baseAddress!, queryCount: shape.queries, keyCount: shape.keys,
                                heads: shape.heads, kvHeads: shape.kvHeads, headDim: shape.headDim,
                                scale: scale(shape), mask: mask ?? shape.mask, headRange: range, scratch: s, isa: isa)
                        }
                    }
                }
            }
        }
    }
    return out
}

/// Naive two-pass attention in Double for one (query, head), and the error bound stated at the top of this file.
private func reference(_ shape: Shape, _ inputs: Inputs, query i: Int, head h: Int) -> (out: [Double], bound: Double) {
    let hd = shape.headDim
    let g = h / (shape.heads / shape.kvHeads)
    let sc = Double(scale(shape))
    let visible = shape.causal ? min(shape.keys, shape.keys - shape.queries + i + 1) : shape.keys
    let qBase = (i * shape.heads + h) * hd
    var scores = [Double](repeating: 0, count: visible)
    var delta = 0.0
    var maxV = 0.0
    for j in 0..<visible {
        let kBase = (j * shape.kvHeads + g) * hd
        var dot = 0.0
        var magnitude = 0.0
        for d in 0..<hd {
            let product = Double(inputs.q[qBase + d]) * Double(inputs.k[kBase + d])
            dot += product
            magnitude += abs(product)
            maxV = max(maxV, abs(Double(inputs.v[kBase + d])))
        }
        scores[j] = dot * sc
        delta = max(delta, Double((hd + 15) / 16 + 6) * u * sc * magnitude)
    }
    let m = scores.max()!
    let e = scores.map { exp($0 - m) }
    let sum = e.reduce(0, +)
    var out = [Double](repeating: 0, count: hd)
    for j in 0..<visible {
        let vBase = (j * shape.kvHeads + g) * hd
        for d in 0..<hd { out[d] += e[j] / sum * Double(inputs.v[vBase + d]) }
    }
    let spread = m - scores.min()!
    let tiles = Double((visible + tile - 1) / tile)
    let bound = maxV * (2 * (2 * delta + (spread + tiles + 2) * u) + Double(2 * visible + 1) * u)
    return (out, 2 * bound)
}

private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

@Suite("Attention kernel")
struct AttentionKernelTests {
    @Test("every ISA equals the scalar reference bit for bit", arguments: shapes)
    private func isasAgree(shape: Shape) {
        let inputs = Inputs(shape, seed: 0xA77E + UInt64(shape.headDim * 1000 + shape.keys))
        let scalar = attention(shape, inputs, isa: .scalar)
        for isa in InstructionSet.reachable where isa != .scalar {
            #expect(bits(attention(shape, inputs, isa: isa)) == bits(scalar), "\(isa)")
        }
    }

    @Test("scalar online softmax is within the stated bound of a Double two-pass reference", arguments: shapes)
    private func matchesDoubleReference(shape: Shape) {
        let inputs = Inputs(shape, seed: 0x5EED + UInt64(shape.headDim * 1000 + shape.keys))
        let out = attention(shape, inputs, isa: .scalar)
        var worstRatio = 0.0
        for i in 0..<shape.queries {
            for h in 0..<shape.heads {
                let (ref, bound) = reference(shape, inputs, query: i, head: h)
                let base = (i * shape.heads + h) * shape.headDim
                for d in 0..<shape.headDim {
                    let error = abs(Double(out[base + d]) - ref[d])
                    worstRatio = max(worstRatio, error / bound)
                    #expect(error <= bound, "query \(i) head \(h) dim \(d): error \(error) > bound \(bound)")
                }
            }
        }
        #expect(worstRatio <= 1)
    }

    @Test("splitting the heads over calls gives identical results; other heads are untouched")
    func headRangeSplits() {
        let shape = Shape(headDim: 80, heads: 8, kvHeads: 2, queries: 7, keys: 300, causal: true)
        let inputs = Inputs(shape, seed: 42)
        let whole = attention(shape, inputs, isa: .active)
        let splits: [[Range<Int>]] = [[0..<1, 1..<8], [0..<3, 3..<5, 5..<8], (0..<8).map { $0..<($0 + 1) }]
        for ranges in splits {
            #expect(bits(attention(shape, inputs, ranges: ranges, isa: .active)) == bits(whole), "\(ranges)")
        }
        let partial = attention(shape, inputs, ranges: [2..<5], isa: .active)
        for i in 0..<shape.queries {
            for h in 0..<shape.heads {
                let row = (i * shape.heads + h) * shape.headDim
                let slice = Array(partial[row..<(row + shape.headDim)])
                if (2..<5).contains(h) {
                    #expect(bits(slice) == bits(Array(whole[row..<(row + shape.headDim)])))
                } else {
                    let untouched = slice.allSatisfy(\.isNaN)
                    #expect(untouched, "head \(h) was written")
                }
            }
        }
    }

    @Test("a causal decode step equals the last row of a causal prefill over the same keys")
    func decodeMatchesPrefill() {
        for isa in InstructionSet.reachable {
            for keys in [1, 31, 32, 33, 63, 64, 65, 150] {
                let prefill = Shape(headDim: 64, heads: 4, kvHeads: 2, queries: keys, keys: keys, causal: true)
                let inputs = Inputs(prefill, seed: UInt64(keys))
                let full = attention(prefill, inputs, isa: isa)
                let rowSize = prefill.heads * prefill.headDim
                var decodeInputs = inputs
                decodeInputs.q = Array(inputs.q[((keys - 1) * rowSize)...])
                var decode = prefill
                decode.queries = 1
                let step = attention(decode, decodeInputs, mask: .causal(queryStart: keys - 1), isa: isa)
                #expect(bits(step) == bits(Array(full[((keys - 1) * rowSize)...])), "\(isa) keys \(keys)")
            }
        }
    }

    @Test("causal chunk with queryStart 0 ignores the keys after the last query")
    func causalIgnoresLaterKeys() {
        let shape = Shape(headDim: 16, heads: 2, kvHeads: 1, queries: 5, keys: 5, causal: true)
        let inputs = Inputs(shape, seed: 7)
        var longer = shape
        longer.keys = 90
        var extended = Inputs(longer, seed: 8)
        extended.q = inputs.q
        extended.k.replaceSubrange(0..<inputs.k.count, with: inputs.k)
        extended.v.replaceSubrange(0..<inputs.v.count, with: inputs.v)
        for isa in InstructionSet.reachable {
            let short = attention(shape, inputs, isa: isa)
            let long = attention(longer, extended, mask: .causal(queryStart: 0), isa: isa)
            #expect(bits(long) == bits(short), "\(isa)")
        }
    }

    @Test("a 2048-token non-causal sequence runs in the small scratch and matches the Double reference")
    func longSequence() {
        let shape = Shape(headDim: 64, heads: 2, kvHeads: 1, queries: 2048, keys: 2048, causal: false)
        // The scratch does not grow with the sequence: O(tile x head_dim) floats (about 5 K here), far below even the
        // 2048 x 64 floats of the keys, let alone the 2048 x 2048 scores.
        #expect(Kernels.attentionScratchSize(headDim: 64) < 2048 * 64 / 16)
        let inputs = Inputs(shape, seed: 2048)
        let out = attention(shape, inputs, isa: .active)
        let allFinite = out.allSatisfy(\.isFinite)
        #expect(allFinite)
        for i in [0, 1, 63, 64, 1000, 2047] {
            for h in 0..<shape.heads {
                let (ref, bound) = reference(shape, inputs, query: i, head: h)
                let base = (i * shape.heads + h) * shape.headDim
                for d in 0..<shape.headDim {
                    #expect(abs(Double(out[base + d]) - ref[d]) <= bound, "query \(i) head \(h) dim \(d)")
                }
            }
        }
    }

    @Test("no keys gives zeros")
    func noKeys() {
        let shape = Shape(headDim: 16, heads: 2, kvHeads: 2, queries: 3, keys: 0, causal: false)
        let inputs = Inputs(shape, seed: 1)
        let zeros = attention(shape, inputs, isa: .active).allSatisfy { $0 == 0 }
        #expect(zeros)
    }
}

/// `matrixAttention` on `[tokens, heads, headDim]` inputs (self-attention, no key/value grouping), over head ranges.
private func matrixAttention(_ shape: Shape, _ inputs: Inputs, ranges: [Range<Int>]) -> [Float] {
    var out = [Float](repeating: .nan, count: shape.queries * shape.heads * shape.headDim)
    var scratch = [Float](
        repeating: .nan, count: Kernels.matrixAttentionScratchSize(tokens: shape.keys, headDim: shape.headDim))
    inputs.q.withUnsafeBufferPointer { q in
        inputs.k.withUnsafeBufferPointer { k in
            inputs.v.withUnsafeBufferPointer { v in
                out.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { s in
                        for range in ranges {
                            Kernels.matrixAttention(
                                queries: q.baseAddress!, keys: k.baseAddress!, values: v.baseAddress!,
                                output: o.baseAddress!, tokens: shape.keys, heads: shape.heads,
                                headDim: shape.headDim, scale: scale(shape), headRange: range, scratch: s)
                        }
                    }
                }
            }
        }
    }
    return out
}

@Suite("Attention on the matrix multiply (vision towers)")
struct MatrixAttentionTests {
    static let shapes = [1, 7, 33, 300].flatMap { tokens in
        [16, 64, 80].map { Shape(headDim: $0, heads: 3, kvHeads: 3, queries: tokens, keys: tokens, causal: false) }
    }

    @Test("equals the Double reference within the online kernel's bound", arguments: shapes)
    func matchesReference(shape: Shape) {
        let inputs = Inputs(shape, seed: UInt64(shape.keys * 100 + shape.headDim))
        let out = matrixAttention(shape, inputs, ranges: [0..<shape.heads])
        for i in 0..<shape.queries {
            for h in 0..<shape.heads {
                let (expected, bound) = reference(shape, inputs, query: i, head: h)
                let base = (i * shape.heads + h) * shape.headDim
                for d in 0..<shape.headDim {
                    #expect(abs(Double(out[base + d]) - expected[d]) <= bound, "query \(i) head \(h) dim \(d)")
                }
            }
        }
    }

    @Test("any split of the heads gives the same bits")
    func headSplits() {
        let shape = Shape(headDim: 64, heads: 5, kvHeads: 5, queries: 70, keys: 70, causal: false)
        let inputs = Inputs(shape, seed: 3)
        let whole = matrixAttention(shape, inputs, ranges: [0..<5])
        #expect(bits(matrixAttention(shape, inputs, ranges: [0..<2, 2..<5])) == bits(whole))
        #expect(bits(matrixAttention(shape, inputs, ranges: [4..<5, 0..<4])) == bits(whole))
    }

    @Test("a sequence longer than one block of queries")
    func manyBlocks() {
        // 2100 tokens: blocks of 1997 rows, so the second block has 103.
        let shape = Shape(headDim: 16, heads: 1, kvHeads: 1, queries: 2100, keys: 2100, causal: false)
        let inputs = Inputs(shape, seed: 4)
        let out = matrixAttention(shape, inputs, ranges: [0..<1])
        for i in [0, 1996, 1997, 2099] {
            let (expected, bound) = reference(shape, inputs, query: i, head: 0)
            for d in 0..<16 { #expect(abs(Double(out[i * 16 + d]) - expected[d]) <= bound) }
        }
    }
}
