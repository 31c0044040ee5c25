import Foundation
import TestSupport
import Testing
import VLCore

// Tolerances. Every ISA computes these kernels with the same operations in the same order (reductions in the
// 16-lane order of vl_kernels.h, vl_exp's fixed operation sequence for exponentials and exact GELU's erf), so
// fast kernels are compared with the scalar reference for exact bit equality. The scalar reference is compared with a Double evaluation of the
// formulas of qwen-architecture.md §1, with bounds in units of u = 2^-24 (float's unit roundoff):
// - norms: a row's reduction adds ceil(d / 16) terms per lane plus a 4-level tree, then a handful of single
//   roundings (divide, add eps, sqrt, reciprocal, two multiplies), so the relative error is at most about
//   (ceil(d / 16) + 10) u; the tests allow twice that, relative to the output for RMSNorm and, for LayerNorm (whose
//   x - mean can cancel), relative to |w| r (|x - mean| + max|x|) + |b|.
// - exp: within 1 ulp of the exact value wherever that is a normal float (vl_elementwise.h).
// - activations and SwiGLU: an exp within 1-2 ulp and a few roundings; 1 + tanh can cancel for negative x, and exact
//   GELU's erf is within 1.5e-7 (about 2.5 u) absolute, so the bound is 16 u (|y| + |x|) (absolute error scaled by
//   the input).
// - softmax: exp (≤ 1 ulp) plus the sum's error, (ceil(n / 16) + 8) u relative, twice allowed.
// - rope: each output is two products and a sum, within 2 u (|x c| + |y s|) of the exact value; it is also checked
//   bit for bit against the same Float expression written in Swift.

private let u = 0x1p-24

private let sizes = [1, 7, 15, 16, 17, 31, 33, 255, 1025]
private let rowCounts = [1, 3]

private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

private func lanes(_ n: Int) -> Double { Double((n + 15) / 16) }

// MARK: - Runners (arrays in, arrays out)

private func rmsNorm(
    _ x: [Float], weight: [Float], width: Int, variant: Kernels.RMSNormVariant, isa: InstructionSet
) -> [Float] {
    var out = [Float](repeating: .nan, count: x.count)
    x.withUnsafeBufferPointer { xb in
        weight.withUnsafeBufferPointer { wb in
            out.withUnsafeMutableBufferPointer { ob in
                Kernels.rmsNorm(
                    xb, weight: variant == .unweighted ? nil : wb, into: ob, width: width, epsilon: 1e-6,
                    variant: variant, isa: isa)
            }
        }
    }
    return out
}

private func layerNorm(_ x: [Float], weight: [Float], bias: [Float], width: Int, isa: InstructionSet) -> [Float] {
    var out = [Float](repeating: .nan, count: x.count)
    x.withUnsafeBufferPointer { xb in
        weight.withUnsafeBufferPointer { wb in
            bias.withUnsafeBufferPointer { bb in
                out.withUnsafeMutableBufferPointer { ob in
                    Kernels.layerNorm(xb, weight: wb, bias: bb, into: ob, width: width, epsilon: 1e-6, isa: isa)
                }
            }
        }
    }
    return out
}

private func activate(_ activation: Kernels.Activation, _ x: [Float], isa: InstructionSet) -> [Float] {
    var out = [Float](repeating: .nan, count: x.count)
    x.withUnsafeBufferPointer { xb in
        out.withUnsafeMutableBufferPointer { Kernels.activate(activation, xb, into: $0, isa: isa) }
    }
    return out
}

private func swiglu(_ gate: [Float], _ up: [Float], isa: InstructionSet) -> [Float] {
    var out = [Float](repeating: .nan, count: gate.count)
    gate.withUnsafeBufferPointer { g in
        up.withUnsafeBufferPointer { u in
            out.withUnsafeMutableBufferPointer { Kernels.swiglu(gate: g, up: u, into: $0, isa: isa) }
        }
    }
    return out
}

private func softmax(_ x: [Float], isa: InstructionSet) -> [Float] {
    var out = x
    out.withUnsafeMutableBufferPointer { Kernels.softmax($0, isa: isa) }
    return out
}

private func rope(
    _ x: [Float], cos: [Float], sin: [Float], heads: Int, headDim: Int, rotaryDim: Int, isa: InstructionSet
) -> [Float] {
    var out = x
    out.withUnsafeMutableBufferPointer { xb in
        cos.withUnsafeBufferPointer { c in
            sin.withUnsafeBufferPointer { s in
                Kernels.ropeRotateHalf(
                    xb, cos: c, sin: s, heads: heads, headDim: headDim, rotaryDim: rotaryDim, isa: isa)
            }
        }
    }
    return out
}

// MARK: - Double references (qwen-architecture.md §1)

private func referenceActivation(_ activation: Kernels.Activation, _ x: Double) -> Double {
    switch activation {
    case .silu: x / (1 + exp(-x))
    case .geluErf: 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
    case .geluTanh: 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    case .quickGelu: x / (1 + exp(-1.702 * x))
    }
}

// MARK: - Tests

@Suite("Norm kernels")
struct NormKernelTests {
    @Test("RMSNorm: every ISA equals scalar bit for bit; scalar is close to Double", arguments: sizes, rowCounts)
    func rmsNormAccuracy(width: Int, rows: Int) {
        var rng = SplitMix(state: UInt64(width * 31 + rows))
        let x = rng.floats(rows * width, scale: 4)
        let weight = rng.floats(width, scale: 2)
        for variant in Kernels.RMSNormVariant.allCases {
            let scalar = rmsNorm(x, weight: weight, width: width, variant: variant, isa: .scalar)
            for isa in InstructionSet.reachable.dropFirst() {
                #expect(
                    bits(rmsNorm(x, weight: weight, width: width, variant: variant, isa: isa)) == bits(scalar),
                    "\(variant) \(isa)")
            }
            let bound = 2 * (lanes(width) + 10) * u
            for r in 0..<rows {
                let row = x[r * width..<(r + 1) * width].map(Double.init)
                let scale = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(width) + 1e-6).squareRoot()
                for k in 0..<width {
                    let y = row[k] * scale
                    let w = Double(weight[k])
                    let exact: Double
                    switch variant {
                    case .standard: exact = w * y
                    case .zeroCentred: exact = y * (1 + w)
                    case .unweighted: exact = y
                    }
                    let got = Double(scalar[r * width + k])
                    #expect(abs(got - exact) <= bound * abs(exact) + 1e-30, "\(variant) row \(r) k \(k)")
                }
            }
        }
    }

    @Test("LayerNorm: every ISA equals scalar bit for bit; scalar is close to Double", arguments: sizes, rowCounts)
    func layerNormAccuracy(width: Int, rows: Int) {
        var rng = SplitMix(state: UInt64(width * 37 + rows))
        // An offset mean exercises the two-pass variance.
        let x = rng.floats(rows * width, scale: 3).map { $0 + 5 }
        let weight = rng.floats(width, scale: 2)
        let bias = rng.floats(width)
        let scalar = layerNorm(x, weight: weight, bias: bias, width: width, isa: .scalar)
        for isa in InstructionSet.reachable.dropFirst() {
            #expect(bits(layerNorm(x, weight: weight, bias: bias, width: width, isa: isa)) == bits(scalar), "\(isa)")
        }
        let bound = 2 * (lanes(width) + 10) * u
        for r in 0..<rows {
            let row = x[r * width..<(r + 1) * width].map(Double.init)
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width)
            let scale = 1 / (variance + 1e-6).squareRoot()
            let maxAbs = row.map(abs).max()!
            for k in 0..<width {
                let w = Double(weight[k])
                let b = Double(bias[k])
                let exact = (row[k] - mean) * scale * w + b
                let magnitude = abs(w) * scale * (abs(row[k] - mean) + maxAbs) + abs(b)
                #expect(abs(Double(scalar[r * width + k]) - exact) <= bound * magnitude, "row \(r) k \(k)")
            }
        }
    }

    @Test("norms work in place", arguments: InstructionSet.reachable)
    func inPlace(isa: InstructionSet) {
        var rng = SplitMix(state: 11)
        let width = 33
        let x = rng.floats(3 * width)
        let weight = rng.floats(width)
        let expected = rmsNorm(x, weight: weight, width: width, variant: .zeroCentred, isa: isa)
        var buffer = x
        buffer.withUnsafeMutableBufferPointer { b in
            weight.withUnsafeBufferPointer { w in
                Kernels.rmsNorm(
                    UnsafeBufferPointer(b), weight: w, into: b, width: width, epsilon: 1e-6, variant: .zeroCentred,
                    isa: isa)
            }
        }
        #expect(bits(buffer) == bits(expected))
    }
}

@Suite("Activation kernels")
struct ActivationKernelTests {
    @Test("exp: within 1 ulp of Double exp over the whole normal range, the same bits on every ISA")
    func expAccuracy() {
        // A dense sweep from below the subnormal cut-off to above overflow, plus the special values.
        var x = stride(from: -110.0, to: 90.0, by: 0.000_731).map { Float($0) }
        x += [.nan, .infinity, -.infinity, 0, -0.0, 88.7228, 88.72284, -103.97208, -103.9721, 1e-30, -1e-30]
        var scalar = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xb in
            scalar.withUnsafeMutableBufferPointer { Kernels.exp(xb, into: $0, isa: .scalar) }
        }
        for isa in InstructionSet.reachable.dropFirst() {
            var fast = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xb in
                fast.withUnsafeMutableBufferPointer { Kernels.exp(xb, into: $0, isa: isa) }
            }
            #expect(bits(fast) == bits(scalar), "\(isa)")
        }
        var worst = 0.0
        for (input, got) in zip(x, scalar) where input.isFinite {
            let exact = Foundation.exp(Double(input))
            if exact < Double(Float.leastNormalMagnitude) || exact > Double(Float.greatestFiniteMagnitude) { continue }
            worst = max(worst, abs(Double(got) - exact) / Double(Float(exact).ulp))
        }
        #expect(worst <= 1, "max error \(worst) ulp")
        let specials = Array(scalar.suffix(11))
        #expect(
            specials[0].isNaN && specials[1] == .infinity && specials[2] == 0 && specials[3] == 1 && specials[4] == 1)
        #expect(specials[5].isFinite && specials[6] == .infinity)
        #expect(specials[7] > 0 && specials[8] == 0)  // the smallest subnormal, then +0
    }

    /// Uniform inputs in [-8, 8) plus a few special values at the front.
    private static func inputs(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix(state: seed)
        let specials: [Float] = [0, -0.0, 1, -1, 30, -30, 100, -100, 1e-20, -1e-20]
        return (0..<count).map { $0 < specials.count ? specials[$0] : rng.float(8) }
    }

    @Test(
        "every ISA equals scalar bit for bit; scalar is close to Double",
        arguments: sizes, Kernels.Activation.allCases)
    func accuracy(count: Int, activation: Kernels.Activation) {
        let x = Self.inputs(count, seed: UInt64(count))
        let scalar = activate(activation, x, isa: .scalar)
        for isa in InstructionSet.reachable.dropFirst() {
            #expect(bits(activate(activation, x, isa: isa)) == bits(scalar), "\(isa)")
        }
        for (input, got) in zip(x, scalar) {
            let exact = referenceActivation(activation, Double(input))
            #expect(abs(Double(got) - exact) <= 16 * u * (abs(exact) + abs(Double(input))), "x \(input)")
        }
    }

    @Test("SwiGLU: every ISA equals scalar bit for bit; scalar is close to Double", arguments: sizes)
    func swigluAccuracy(count: Int) {
        let gate = Self.inputs(count, seed: UInt64(count) + 100)
        var rng = SplitMix(state: UInt64(count) + 200)
        let up = rng.floats(count, scale: 4)
        let scalar = swiglu(gate, up, isa: .scalar)
        for isa in InstructionSet.reachable.dropFirst() {
            #expect(bits(swiglu(gate, up, isa: isa)) == bits(scalar), "\(isa)")
        }
        for i in 0..<count {
            let g = Double(gate[i])
            let v = Double(up[i])
            let exact = g / (1 + exp(-g)) * v
            #expect(abs(Double(scalar[i]) - exact) <= 16 * u * (abs(exact) + abs(g * v)), "i \(i)")
        }
    }
}

@Suite("Softmax and rotary kernels")
struct SoftmaxRopeKernelTests {
    @Test("softmax: every ISA equals scalar bit for bit; scalar is close to Double and sums to 1", arguments: sizes)
    func softmaxAccuracy(count: Int) {
        var rng = SplitMix(state: UInt64(count) + 300)
        let x = rng.floats(count, scale: 10)
        let scalar = softmax(x, isa: .scalar)
        for isa in InstructionSet.reachable.dropFirst() {
            #expect(bits(softmax(x, isa: isa)) == bits(scalar), "\(isa)")
        }
        let m = Double(x.max()!)
        let e = x.map { exp(Double($0) - m) }
        let total = e.reduce(0, +)
        let bound = 2 * (lanes(count) + 8) * u
        for i in 0..<count {
            let exact = e[i] / total
            #expect(abs(Double(scalar[i]) - exact) <= bound * exact, "i \(i)")
        }
        #expect(abs(scalar.reduce(0.0) { $0 + Double($1) } - 1) <= bound)
    }

    @Test("softmax of large inputs does not overflow", arguments: InstructionSet.reachable)
    func softmaxLarge(isa: InstructionSet) {
        #expect(softmax([1000, -1000], isa: isa) == [1, 0])
        #expect(softmax([1000, 1000], isa: isa) == [0.5, 0.5])
        #expect(softmax([-1000, -1000, -1000, -1000], isa: isa) == [0.25, 0.25, 0.25, 0.25])
        let big = (0..<33).map { Float($0 % 2 == 0 ? 3e38 : -3e38) }
        let result = softmax(big, isa: isa)
        #expect(result.allSatisfy { $0.isFinite })
        #expect(abs(result.reduce(0, +) - 1) <= 1e-6)
        #expect(softmax([-Float.infinity, 0, 2], isa: isa)[0] == 0)
    }

    @Test(
        "rope: rotate-half on the first rotaryDim dims, the rest untouched",
        arguments: InstructionSet.reachable, [1, 7, 15, 16, 17, 31, 33, 255])
    func ropeRotateHalf(isa: InstructionSet, half: Int) {
        for extra in [0, 3] {
            check(isa: isa, heads: 3, headDim: 2 * half + extra, rotaryDim: 2 * half, seed: UInt64(half + extra))
        }
    }

    @Test("rope: Qwen3.5 partial rotary (64 of 256)", arguments: InstructionSet.reachable)
    func ropePartial(isa: InstructionSet) {
        check(isa: isa, heads: 8, headDim: 256, rotaryDim: 64, seed: 400)
    }

    private func check(isa: InstructionSet, heads: Int, headDim: Int, rotaryDim: Int, seed: UInt64) {
        var rng = SplitMix(state: seed)
        let x = rng.floats(heads * headDim, scale: 3)
        // cos / sin as the models build them: concat(f, f) of angles pos * inv_freq.
        let half = rotaryDim / 2
        let angles = (0..<half).map { Float(17) * powf(10_000, -Float(2 * $0) / Float(rotaryDim)) }
        let cos = (angles + angles).map { cosf($0) }
        let sin = (angles + angles).map { sinf($0) }
        let got = rope(x, cos: cos, sin: sin, heads: heads, headDim: headDim, rotaryDim: rotaryDim, isa: isa)
        for h in 0..<heads {
            let base = h * headDim
            for i in rotaryDim..<headDim {
                #expect(got[base + i].bitPattern == x[base + i].bitPattern, "head \(h) dim \(i) changed")
            }
            for i in 0..<rotaryDim {
                // rotate_half(x) = concat(-x[D/2:], x[:D/2]) over the rotary dims.
                let rotated = i < half ? -x[base + i + half] : x[base + i - half]
                let product = rotated * sin[i]
                let expected = x[base + i] * cos[i] + product
                #expect(got[base + i].bitPattern == expected.bitPattern, "head \(h) dim \(i)")
                let exact = Double(x[base + i]) * Double(cos[i]) + Double(rotated) * Double(sin[i])
                let magnitude = abs(Double(x[base + i]) * Double(cos[i])) + abs(Double(rotated) * Double(sin[i]))
                #expect(abs(Double(got[base + i]) - exact) <= 2 * u * magnitude, "head \(h) dim \(i)")
            }
        }
    }
}
