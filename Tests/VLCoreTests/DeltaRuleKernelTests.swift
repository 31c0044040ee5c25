import Foundation
import TestSupport
import Testing
import VLCore

/// The gated delta rule in Double, written from the formula (qwen-architecture.md §5.3), not from the kernel.
private func referenceDeltaRule(
    state: inout [Double], dk: Int, dv: Int, q: [Float], k: [Float], v: [Float], alpha: [Float], beta: [Float]
) -> [Double] {
    var outputs: [Double] = []
    for t in 0..<alpha.count {
        for index in state.indices { state[index] *= Double(alpha[t]) }
        var m = [Double](repeating: 0, count: dv)
        for i in 0..<dk { for j in 0..<dv { m[j] += Double(k[t * dk + i]) * state[i * dv + j] } }
        let d = (0..<dv).map { Double(beta[t]) * (Double(v[t * dv + $0]) - m[$0]) }
        for i in 0..<dk { for j in 0..<dv { state[i * dv + j] += Double(k[t * dk + i]) * d[j] } }
        for j in 0..<dv { outputs.append((0..<dk).reduce(0) { $0 + Double(q[t * dk + $1]) * state[$1 * dv + j] }) }
    }
    return outputs
}

@Suite("Gated delta rule kernel")
struct DeltaRuleKernelTests {
    struct Inputs {
        var state: [Float]
        let q: [Float]
        let k: [Float]
        let v: [Float]
        let alpha: [Float]
        let beta: [Float]
    }

    /// Unit-length keys and queries as the layer gives them, decays in (0, 1), betas in (0, 1).
    static func inputs(dk: Int, dv: Int, tokens: Int, seed: UInt64) -> Inputs {
        var rng = SplitMix(state: seed)
        func unit(_ count: Int) -> [Float] {
            (0..<count).flatMap { _ in
                let x = (0..<dk).map { _ in rng.gaussian() }
                let norm = max(x.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-6)
                return x.map { $0 / norm }
            }
        }
        let q = unit(tokens).map { $0 / Float(dk).squareRoot() }
        return Inputs(
            state: rng.floats(dk * dv), q: q, k: unit(tokens), v: rng.floats(tokens * dv, scale: 2),
            alpha: (0..<tokens).map { _ in 0.5 + 0.5 * abs(rng.float()) },
            beta: (0..<tokens).map { _ in abs(rng.float()) })
    }

    static func run(_ inputs: Inputs, dk: Int, dv: Int, isa: InstructionSet, tokens: Range<Int>? = nil)
        -> (state: [Float], output: [Float])
    {
        var state = inputs.state
        let count = inputs.alpha.count
        var output = [Float](repeating: .nan, count: count * dv)
        let range = tokens ?? 0..<count
        Self.advance(&state, &output, inputs, dk: dk, dv: dv, range: range, isa: isa)
        return (state, output)
    }

    static func advance(
        _ state: inout [Float], _ output: inout [Float], _ inputs: Inputs, dk: Int, dv: Int, range: Range<Int>,
        isa: InstructionSet
    ) {
        let t0 = range.lowerBound
        Kernels.gatedDeltaRule(
            state: &state, keyDim: dk, valueDim: dv, tokens: range.count, queries: Array(inputs.q[(t0 * dk)...]),
            keys: Array(inputs.k[(t0 * dk)...]), queryKeyStride: dk, values: Array(inputs.v[(t0 * dv)...]),
            valueStride: dv, decay: Array(inputs.alpha[t0...]), beta: Array(inputs.beta[t0...]),
            output: &output[t0 * dv], outputStride: dv, isa: isa)
    }

    @Test(
        "every ISA equals the scalar kernel bit for bit",
        arguments: [(1, 1), (7, 15), (16, 16), (17, 33), (32, 64), (33, 65), (128, 128), (64, 130), (5, 200)])
    func bitIdentical(dk: Int, dv: Int) {
        let inputs = Self.inputs(dk: dk, dv: dv, tokens: 4, seed: UInt64(dk * 1000 + dv))
        let scalar = Self.run(inputs, dk: dk, dv: dv, isa: .scalar)
        for isa in InstructionSet.reachable where isa != .scalar {
            let fast = Self.run(inputs, dk: dk, dv: dv, isa: isa)
            #expect(fast.state.map(\.bitPattern) == scalar.state.map(\.bitPattern), "\(isa) state")
            #expect(fast.output.map(\.bitPattern) == scalar.output.map(\.bitPattern), "\(isa) output")
        }
    }

    @Test("the kernel follows the formula (Double reference) over many tokens", arguments: [(16, 16), (128, 128)])
    func matchesFormula(dk: Int, dv: Int) {
        let tokens = 40
        let inputs = Self.inputs(dk: dk, dv: dv, tokens: tokens, seed: 5)
        var state = inputs.state.map(Double.init)
        let expected = referenceDeltaRule(
            state: &state, dk: dk, dv: dv, q: inputs.q, k: inputs.k, v: inputs.v, alpha: inputs.alpha,
            beta: inputs.beta)
        let actual = Self.run(inputs, dk: dk, dv: dv, isa: .active)
        let scale = expected.map(abs).max()!
        let worst = zip(actual.output, expected).map { abs(Double($0) - $1) }.max()!
        #expect(worst / scale < 1e-5)
        let stateScale = state.map(abs).max()!
        #expect(zip(actual.state, state).map { abs(Double($0) - $1) }.max()! / stateScale < 1e-5)
    }

    @Test("a prompt in one call equals the same tokens one call at a time")
    func promptEqualsSteps() {
        let (dk, dv, tokens) = (128, 128, 9)
        let inputs = Self.inputs(dk: dk, dv: dv, tokens: tokens, seed: 9)
        let whole = Self.run(inputs, dk: dk, dv: dv, isa: .active)
        var state = inputs.state
        var output = [Float](repeating: .nan, count: tokens * dv)
        for t in 0..<tokens {
            Self.advance(&state, &output, inputs, dk: dk, dv: dv, range: t..<(t + 1), isa: .active)
        }
        #expect(state == whole.state && output == whole.output)
    }
}
