import TestSupport
import Testing
import VLCore

// Tolerance. Every ISA sums each output in the same fixed order (16 FMA lanes, then a halving tree; see
// vl_kernels.h), so the fast kernels are compared with the scalar reference for exact bit equality. The scalar
// reference itself is checked against a Double sum with the classic bound for recursive summation: each lane adds
// ceil(cols / 16) terms and the tree 4 more, so |y - exact| <= (ceil(cols / 16) + 4) * 2^-24 * Σ|w·x| (first order);
// the test allows twice that.

/// Reference bf16 rounding, written independently of the C code: to nearest, ties to even, NaN kept NaN.
private func referenceBF16(_ value: Float) -> UInt16 {
    if value.isNaN { return UInt16(value.bitPattern >> 16) | 0x0040 }
    let bits = value.bitPattern
    let upper = bits >> 16
    let lower = bits & 0xFFFF
    let roundUp = lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1)
    return UInt16(truncatingIfNeeded: roundUp ? upper + 1 : upper)
}

private func floatFromBF16(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

enum WeightType: String, CaseIterable, Sendable {
    case f32, bf16, f16

    /// The 16-bit pattern of `value` in this type (bf16 rounded by the test's own reference, f16 by Swift's
    /// `Float16`), and back to `Float`, exactly.
    func halve(_ value: Float) -> UInt16 { self == .f16 ? Float16(value).bitPattern : referenceBF16(value) }
    func widen(_ bits: UInt16) -> Float { self == .f16 ? Float(Float16(bitPattern: bits)) : floatFromBF16(bits) }

    /// The matrix as the kernels take it: the floats, or the 16-bit patterns.
    func weights(_ floats: UnsafePointer<Float>, _ halves: UnsafePointer<UInt16>) -> Kernels.DenseWeights {
        switch self {
        case .f32: .f32(floats)
        case .bf16: .bf16(halves)
        case .f16: .f16(halves)
        }
    }
}

/// A weight matrix `[rows, cols]` in its type (and an F32 copy holding the same values) and 16 input vectors
/// `[16, cols]` (batches over 8 run in groups of 8 and a remainder).
private struct Problem {
    let rows: Int
    let cols: Int
    let type: WeightType
    var weights: [Float]
    var halves: [UInt16]
    var inputs: [Float]

    init(rows: Int, cols: Int, type: WeightType, seed: UInt64) {
        var rng = SplitMix(state: seed &* 1_000_003 &+ UInt64(cols))
        self.rows = rows
        self.cols = cols
        self.type = type
        let raw = (0..<rows * cols).map { _ in rng.float() }
        halves = raw.map { type.halve($0) }
        weights = type == .f32 ? raw : halves.map { type.widen($0) }
        inputs = (0..<16 * cols).map { _ in rng.float() }
    }

    /// Runs the kernel on rows `range`, vectors `vectors` (a contiguous range of the 16), into `outputs`
    /// (`[vectors.count, rows]`).
    func run(
        _ isa: InstructionSet, rows range: Range<Int>? = nil, vectors: Range<Int> = 0..<8, into outputs: inout [Float]
    ) {
        let range = range ?? 0..<rows
        inputs.withUnsafeBufferPointer { x in
            outputs.withUnsafeMutableBufferPointer { y in
                let xb = x.baseAddress! + vectors.lowerBound * cols
                weights.withUnsafeBufferPointer { f in
                    halves.withUnsafeBufferPointer { h in
                        Kernels.matvec(
                            weights: type.weights(f.baseAddress!, h.baseAddress!), rows: range, cols: cols,
                            inputs: xb, batch: vectors.count, outputs: y.baseAddress!, outputStride: rows, isa: isa)
                    }
                }
            }
        }
    }

    func output(_ isa: InstructionSet, batch: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: batch * rows)
        run(isa, vectors: 0..<batch, into: &y)
        return y
    }
}

private let sizes = [1, 7, 15, 16, 17, 31, 33, 255, 1025]
private let rowCount = 11  // odd: exercises the row blocks of 4 and 2 and their remainders

private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

@Suite("Matrix-vector kernels")
struct KernelMatvecTests {
    @Test("scalar reference is close to a Double sum", arguments: sizes, WeightType.allCases)
    func referenceAccuracy(cols: Int, type: WeightType) {
        let problem = Problem(rows: rowCount, cols: cols, type: type, seed: 1)
        let y = problem.output(.scalar, batch: 8)
        let lanes = (cols + 15) / 16
        for b in 0..<8 {
            for r in 0..<rowCount {
                var exact = 0.0
                var magnitude = 0.0
                for k in 0..<cols {
                    let term = Double(problem.weights[r * cols + k]) * Double(problem.inputs[b * cols + k])
                    exact += term
                    magnitude += abs(term)
                }
                let bound = 2 * Double(lanes + 4) * 0x1p-24 * magnitude
                #expect(abs(Double(y[b * rowCount + r]) - exact) <= bound, "cols \(cols) b \(b) r \(r)")
            }
        }
    }

    @Test(
        "every ISA equals the scalar reference bit for bit",
        arguments: InstructionSet.reachable, sizes)
    func matchesReference(isa: InstructionSet, cols: Int) {
        for type in WeightType.allCases {
            let problem = Problem(rows: rowCount, cols: cols, type: type, seed: 2)
            for batch in [1, 3, 8, 9, 16] {
                #expect(
                    bits(problem.output(isa, batch: batch)) == bits(problem.output(.scalar, batch: batch)),
                    "\(type) batch \(batch)")
            }
        }
    }

    @Test("a vector's result does not depend on the batch size", arguments: InstructionSet.reachable, sizes)
    func batchInvariant(isa: InstructionSet, cols: Int) {
        for type in WeightType.allCases {
            let problem = Problem(rows: rowCount, cols: cols, type: type, seed: 3)
            let batched = problem.output(isa, batch: 8)
            for b in 0..<8 {
                var single = [Float](repeating: .nan, count: rowCount)
                problem.run(isa, vectors: b..<b + 1, into: &single)
                #expect(bits(single) == bits(Array(batched[b * rowCount..<(b + 1) * rowCount])), "\(type) b \(b)")
            }
        }
    }

    @Test("splitting the rows does not change any bit", arguments: InstructionSet.reachable, sizes)
    func rowSplitInvariant(isa: InstructionSet, cols: Int) {
        for type in WeightType.allCases {
            let problem = Problem(rows: rowCount, cols: cols, type: type, seed: 4)
            for batch in [1, 3, 8] {
                let whole = problem.output(isa, batch: batch)
                for split in [1, 5, 6, 10] {
                    var parts = [Float](repeating: .nan, count: batch * rowCount)
                    problem.run(isa, rows: 0..<split, vectors: 0..<batch, into: &parts)
                    problem.run(isa, rows: split..<rowCount, vectors: 0..<batch, into: &parts)
                    #expect(bits(parts) == bits(whole), "\(type) batch \(batch) split \(split)")
                }
            }
        }
    }

    @Test("one and two pool threads give identical bits", arguments: InstructionSet.reachable)
    func threadInvariant(isa: InstructionSet) {
        let problem = Problem(rows: 67, cols: 255, type: .bf16, seed: 5)
        var results: [[UInt32]] = []
        for threads in [1, 2] {
            let pool = ComputePool(threadCount: threads)
            var y = [Float](repeating: .nan, count: 8 * problem.rows)
            y.withUnsafeMutableBufferPointer { out in
                let base = out.baseAddress!
                problem.halves.withUnsafeBufferPointer { w in
                    problem.inputs.withUnsafeBufferPointer { x in
                        pool.parallelFor(problem.rows) { range in
                            Kernels.matvec(
                                weights: .bf16(w.baseAddress!), rows: range, cols: problem.cols,
                                inputs: x.baseAddress!, batch: 8, outputs: base, outputStride: problem.rows, isa: isa)
                        }
                    }
                }
            }
            results.append(bits(y))
        }
        #expect(results[0] == results[1])
    }

    @Test("an empty row range or batch writes nothing", arguments: InstructionSet.reachable)
    func emptyRanges(isa: InstructionSet) {
        let problem = Problem(rows: 3, cols: 17, type: .f32, seed: 6)
        var y = [Float](repeating: 42, count: 8 * 3)
        problem.run(isa, rows: 2..<2, into: &y)
        problem.run(isa, vectors: 0..<0, into: &y)
        #expect(y.allSatisfy { $0 == 42 })
    }
}

@Suite("bf16 conversion kernels")
struct KernelConversionTests {
    @Test("bf16 to float is exact for all 65536 patterns", arguments: InstructionSet.reachable)
    func bf16ToFloatAll(isa: InstructionSet) {
        let source = (0...UInt16.max).map { $0 }
        for count in [source.count, 1, 7, 15, 16, 17, 33] {
            var out = [Float](repeating: 0, count: count)
            source.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    Kernels.convertBF16ToFloat(UnsafeBufferPointer(rebasing: src[0..<count]), into: dst, isa: isa)
                }
            }
            #expect(bits(out) == source[0..<count].map { floatFromBF16($0).bitPattern })
        }
    }

    private static let specials: [(input: UInt32, expected: UInt16)] = [
        (0x3F80_8000, 0x3F80),  // tie, even stays
        (0x3F81_8000, 0x3F82),  // tie, odd rounds up to even
        (0x3F80_8001, 0x3F81),  // above the tie
        (0x3F80_7FFF, 0x3F80),  // below the tie
        (0xBF81_8000, 0xBF82),  // negative tie
        (0x7F80_0000, 0x7F80),  // +infinity
        (0xFF80_0000, 0xFF80),  // -infinity
        (0x7F7F_FFFF, 0x7F80),  // largest float rounds to infinity
        (0x7FC0_0000, 0x7FC0),  // quiet NaN
        (0x7F80_0001, 0x7FC0),  // signalling NaN, payload only in the low half: stays NaN
        (0xFFC1_2345, 0xFFC1),  // negative NaN with payload
        (0x0000_8000, 0x0000),  // denormal tie, even stays
        (0x0001_8000, 0x0002),  // denormal tie, odd rounds up
        (0x0000_0001, 0x0000),  // smallest denormal
        (0x807F_FFFF, 0x8080),  // largest negative denormal rounds to the smallest normal
        (0x8000_0000, 0x8000),  // -0
    ]

    @Test("float to bf16 special cases", arguments: InstructionSet.reachable)
    func floatToBF16Specials(isa: InstructionSet) {
        let inputs = Self.specials.map { Float(bitPattern: $0.input) }
        // Repeat so the cases land in vector bodies as well as scalar tails.
        let source = Array(repeating: inputs, count: 3).flatMap { $0 }
        let out = convert(source, isa: isa)
        let expected = Array(repeating: Self.specials.map(\.expected), count: 3).flatMap { $0 }
        #expect(out == expected)
        #expect(Self.specials.map { referenceBF16(Float(bitPattern: $0.input)) } == Self.specials.map(\.expected))
    }

    @Test("float to bf16 matches the Swift reference on random bit patterns", arguments: InstructionSet.reachable)
    func floatToBF16Random(isa: InstructionSet) {
        var rng = SplitMix(state: 7)
        let source = (0..<100_003).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        #expect(convert(source, isa: isa) == source.map(referenceBF16))
        for count in [1, 7, 15, 16, 17, 31, 33] {
            #expect(convert(Array(source[0..<count]), isa: isa) == source[0..<count].map(referenceBF16))
        }
    }

    @Test("bf16 to float to bf16 round-trips every pattern (NaNs become quiet)", arguments: InstructionSet.reachable)
    func roundTrip(isa: InstructionSet) {
        let source = (0...UInt16.max).map { $0 }
        var floats = [Float](repeating: 0, count: source.count)
        source.withUnsafeBufferPointer { src in
            floats.withUnsafeMutableBufferPointer { Kernels.convertBF16ToFloat(src, into: $0, isa: isa) }
        }
        let back = convert(floats, isa: isa)
        for (original, result) in zip(source, back) {
            let isNaN = original & 0x7F80 == 0x7F80 && original & 0x007F != 0
            #expect(result == (isNaN ? original | 0x0040 : original))
        }
    }

    private func convert(_ source: [Float], isa: InstructionSet) -> [UInt16] {
        var out = [UInt16](repeating: 0xDEAD, count: source.count)
        source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { Kernels.convertFloatToBF16(src, into: $0, isa: isa) }
        }
        return out
    }
}

@Suite("Instruction-set selection and probes")
struct KernelDispatchTests {
    @Test func parsing() {
        #expect(InstructionSet(parsing: "scalar") == .scalar)
        #expect(InstructionSet(parsing: "AVX2") == .avx2)
        #expect(InstructionSet(parsing: "avx512") == .avx512)
        for bad in ["", "avx-512", "avx", "avx2 ", "sse4", "avx5120"] {
            #expect(InstructionSet(parsing: bad) == nil, "\(bad)")
        }
        #expect(InstructionSet.allCases.map { InstructionSet(parsing: $0.description) } == InstructionSet.allCases)
    }

    @Test func choosing() {
        #expect(InstructionSet.choose(override: nil, detected: .avx512) == (.avx512, nil))
        #expect(InstructionSet.choose(override: "", detected: .avx2) == (.avx2, nil))
        #expect(InstructionSet.choose(override: "scalar", detected: .avx512) == (.scalar, nil))
        #expect(InstructionSet.choose(override: "avx2", detected: .avx512) == (.avx2, nil))
        let tooHigh = InstructionSet.choose(override: "avx512", detected: .avx2)
        #expect(tooHigh.isa == .avx2)
        #expect(tooHigh.note?.contains("AVX-512") == true && tooHigh.note?.hasSuffix("using avx2") == true)
        let noAVX2 = InstructionSet.choose(override: "avx2", detected: .scalar)
        #expect(noAVX2.isa == .scalar && noAVX2.note?.hasSuffix("using scalar") == true)
        let unknown = InstructionSet.choose(override: "fast", detected: .avx2)
        #expect(unknown.isa == .avx2 && unknown.note?.contains("not one of") == true)
    }

    @Test func detection() {
        #expect(InstructionSet.active <= InstructionSet.detected)
        #expect(InstructionSet.reachable.first == .scalar && InstructionSet.reachable.last == .detected)
        if InstructionSet.activeNote != nil {
            // VLBATCH_ISA was set but ignored: the active level must then be the detected one.
            #expect(InstructionSet.active == InstructionSet.detected)
        }
    }

    @Test("read probe checksums agree across ISAs", arguments: InstructionSet.reachable)
    func readProbe(isa: InstructionSet) {
        var rng = SplitMix(state: 9)
        let bytes = (0..<4133).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var expected: UInt64 = 0
        var index = 0
        while index + 8 <= bytes.count {
            let word = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[index + $1]) << (8 * UInt64($1)) }
            expected &+= word
            index += 8
        }
        for byte in bytes[index...] { expected &+= UInt64(byte) }
        let sum = bytes.withUnsafeBytes { Kernels.probeReadBandwidth($0, repeats: 3, isa: isa) }
        #expect(sum == expected &* 3)
    }

    @Test("FMA probe counts its operations", arguments: InstructionSet.reachable)
    func fmaProbe(isa: InstructionSet) {
        let lanes: [InstructionSet: Double] = [.scalar: 1, .avx2: 8, .avx512: 16]
        #expect(Kernels.probeFMAPeak(iterations: 1000, isa: isa) == 1000 * 12 * 2 * lanes[isa]!)
    }
}

/// f16 conversions against Swift's own `Float16` (an implementation independent of the C code).
@Suite("f16 conversion kernels")
struct KernelF16ConversionTests {
    private static func isNaN16(_ bits: UInt16) -> Bool { bits & 0x7C00 == 0x7C00 && bits & 0x03FF != 0 }

    @Test(
        "f16 to float is exact for all 65536 patterns; NaNs stay NaN, made quiet", arguments: InstructionSet.reachable)
    func toFloatAll(isa: InstructionSet) {
        let source = (0...UInt16.max).map { $0 }
        for count in [source.count, 1, 7, 9, 17] {
            var out = [Float](repeating: 0, count: count)
            source.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    Kernels.convertF16ToFloat(UnsafeBufferPointer(rebasing: src[0..<count]), into: dst, isa: isa)
                }
            }
            for (bits, value) in zip(source, out) {
                if Self.isNaN16(bits) {
                    // sign, payload shifted into place, quiet bit set: what vcvtph2ps produces
                    let expected = UInt32(bits & 0x8000) << 16 | 0x7FC0_0000 | UInt32(bits & 0x03FF) << 13
                    #expect(value.bitPattern == expected, "pattern \(bits)")
                } else {
                    #expect(value.bitPattern == Float(Float16(bitPattern: bits)).bitPattern, "pattern \(bits)")
                }
            }
        }
    }

    @Test("float to f16 rounds to nearest even like Float16(_:)", arguments: InstructionSet.reachable)
    func fromFloat(isa: InstructionSet) {
        var rng = SplitMix(state: 17)
        // Random patterns, plus every half's exact value and the midpoints to its neighbours (ties).
        var source = (0..<100_003).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        for bits in UInt16(0)...0x7BFF {
            let value = Float(Float16(bitPattern: bits))
            source += [value, -value, value + Float(Float16(bitPattern: bits).ulp) / 2]
        }
        source += [65504, 65519.996, 65520, 1e-8, 2.98e-8, 2.9802322e-8, 5.96e-8, .infinity, -.infinity, -0.0]
        var out = [UInt16](repeating: 0xDEAD, count: source.count)
        source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { Kernels.convertFloatToF16(src, into: $0, isa: isa) }
        }
        for (value, bits) in zip(source, out) {
            if value.isNaN {
                #expect(Self.isNaN16(bits) && bits & 0x0200 != 0, "NaN \(value.bitPattern) gave \(bits)")
            } else {
                #expect(bits == Float16(value).bitPattern, "value \(value) (\(value.bitPattern))")
            }
        }
    }
}
