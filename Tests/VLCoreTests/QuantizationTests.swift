import Foundation
import TestSupport
import Testing
import VLCore

// The block formats are checked against their documented byte layout (vl_quant.h) by an independent Swift decoder,
// against the rounding bound |w − deq| ≤ d/2 (plus the rounding of the float division and multiplication). The
// matrix-vector products are checked bit for bit: bf16 / f16 against `Kernels.matvec` (scalar F32) on the dequantized
// matrix, q8 / q4 against an independent Swift implementation of the integer order documented in vl_quant.h; and the
// q8 / q4 results against the float product within the stated tolerance of the input quantization.

private let blockFormats: [WeightFormat] = [.q8, .q4]

/// Independent decoder of the documented layout (groups of 16 rows, their blocks of the same 32 columns together,
/// 4 weights of a row per 32-bit lane): the scale of every block (`[rows, cols / 32]`) and every integer value
/// (`[rows, cols]`), padding rows included (`rows` rounded up to 16).
private func decode(_ matrix: QuantizedMatrix) -> (scales: [Float], values: [Int]) {
    let (blocks, groups) = (matrix.cols / 32, (matrix.rows + 15) / 16)
    let groupBlockBytes = 16 * (matrix.format == .q8 ? 36 : 20)
    let b = matrix.bytes
    var scales = [Float](repeating: .nan, count: groups * 16 * blocks)
    var values = [Int](repeating: .min, count: groups * 16 * matrix.cols)
    for g in 0..<groups {
        for j in 0..<blocks {
            let start = (g * blocks + j) * groupBlockBytes
            for c in 0..<16 {
                let row = g * 16 + c
                let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[start + 4 * c + $1]) << (8 * UInt32($1)) }
                scales[row * blocks + j] = Float(bitPattern: bits)
                for t in 0..<32 {
                    let value: Int
                    if matrix.format == .q8 {
                        value = Int(b[start + 64 + (t / 4) * 64 + 4 * c + t % 4]) - 128
                    } else {
                        let byte = b[start + 64 + (t % 16 / 4) * 64 + 4 * c + t % 4]
                        value = Int(t < 16 ? byte & 15 : byte >> 4) - 8  // weights 0..15 low nibbles, 16..31 high
                    }
                    values[row * matrix.cols + j * 32 + t] = value
                }
            }
        }
    }
    return (scales, values)
}

private func quantBits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

@Suite("Block quantization (q8, q4)")
struct QuantizationTests {
    @Test("bytes per block and layout as documented", arguments: blockFormats)
    func layout(format: WeightFormat) {
        var rng = SplitMix(state: 11)
        let (rows, cols) = (5, 96)
        let weights = (0..<rows * cols).map { _ in rng.gaussian() }
        let matrix = QuantizedMatrix(quantizing: weights, rows: rows, cols: cols, format: format)
        #expect(matrix.bytes.count == 16 * cols / 32 * (format == .q8 ? 36 : 20))  // one group of 16 rows
        #expect(matrix.bytes.count == format.byteCount(rows: rows, cols: cols))
        let (scales, values) = decode(matrix)
        // padding rows 5..15: scale 0, values 0
        #expect(scales[(rows * cols / 32)...].allSatisfy { $0 == 0 } && values[(rows * cols)...].allSatisfy { $0 == 0 })
        let limit = format == .q8 ? 127 : 7
        let deq = matrix.dequantized()
        for index in 0..<rows * cols {
            let d = scales[index / 32]
            #expect(abs(values[index]) <= limit)
            #expect(deq[index].bitPattern == (Float(values[index]) * d).bitPattern, "index \(index)")
        }
        for (block, d) in scales.prefix(rows * cols / 32).enumerated() {
            let amax = weights[block * 32..<(block + 1) * 32].map { abs($0) }.max()!
            #expect(d == amax / Float(limit))
            #expect(values[block * 32..<(block + 1) * 32].contains { abs($0) == limit })
        }
    }

    @Test("each weight is within half a step of its original", arguments: blockFormats)
    func roundingBound(format: WeightFormat) {
        var rng = SplitMix(state: 12)
        let (rows, cols) = (7, 256)
        // Blocks of very different magnitudes, including 1e-30 and 1e30.
        let weights = (0..<rows * cols).map { i in rng.gaussian() * Float(pow(10.0, Double((i / 32) % 13 * 5 - 30))) }
        let matrix = QuantizedMatrix(quantizing: weights, rows: rows, cols: cols, format: format)
        let scales = decode(matrix).scales
        let deq = matrix.dequantized()
        for index in weights.indices {
            let d = scales[index / 32]
            // d/2 from rounding to an integer; the division w/d and the product q*d each add at most half an ulp.
            let bound = d / 2 * (1 + 0x1p-20) + weights[index].ulp
            #expect(abs(weights[index] - deq[index]) <= bound, "index \(index) w \(weights[index]) d \(d)")
        }
    }

    @Test("special blocks: zeros, one outlier, negative extremes", arguments: blockFormats)
    func specialBlocks(format: WeightFormat) {
        let limit: Float = format == .q8 ? 127 : 7
        var zeros = [Float](repeating: 0, count: 32)
        zeros[3] = -0.0
        var outlier = (0..<32).map { Float($0 % 5) * 0.001 - 0.002 }
        outlier[17] = 1000
        let negative = (0..<32).map { $0 % 2 == 0 ? Float(-8) : Float($0) / 8 }  // max|w| = 8 at the negative end
        let weights = zeros + outlier + negative
        let matrix = QuantizedMatrix(quantizing: weights, rows: 3, cols: 32, format: format)
        let (scales, values) = decode(matrix)
        let deq = matrix.dequantized()

        #expect(scales[0] == 0 && values[0..<32].allSatisfy { $0 == 0 })
        #expect(deq[0..<32].allSatisfy { $0.bitPattern == 0 })  // +0, even for the -0 input

        #expect(scales[1] == 1000 / limit)
        #expect(values[32 + 17] == Int(limit))
        #expect(abs(deq[32 + 17] - 1000) <= scales[1] / 2)
        for k in 0..<32 where k != 17 { #expect(values[32 + k] == 0 && deq[32 + k] == 0) }

        #expect(scales[2] == 8 / limit)
        for k in stride(from: 0, to: 32, by: 2) {
            #expect(values[64 + k] == -Int(limit))
            #expect(abs(deq[64 + k] + 8) <= 8 * 0x1p-23)
        }
        if format == .q4 {
            // Row 2, lane 2 of the first chunk (byte 64 + 8): the stored nibble of -7 is 1, for weight 0 (low
            // nibble) and weight 16 (high nibble); the all-zero row 0 stores 8 in both.
            #expect(matrix.bytes[72] == 0x11)
            #expect(matrix.bytes[64] == 0x88)
        } else {
            #expect(matrix.bytes[72] == 128 - 127 && matrix.bytes[64] == 128)  // q + 128
        }
    }

    @Test("bf16 format round-trips through the conversion kernels")
    func bf16Format() {
        var rng = SplitMix(state: 13)
        let weights = (0..<3 * 17).map { _ in rng.float() }
        let matrix = QuantizedMatrix(quantizing: weights, rows: 3, cols: 17, format: .bf16)
        #expect(matrix.bytes.count == 3 * 17 * 2)
        for (w, d) in zip(weights, matrix.dequantized()) { #expect(abs(w - d) <= abs(w) * 0x1p-8) }
    }

    @Test("decodeRow gives each row of dequantized()", arguments: WeightFormat.allCases)
    func decodeRow(format: WeightFormat) {
        var rng = SplitMix(state: 23)
        let (rows, cols) = (7, 64)
        let values = (0..<(rows * cols)).map { _ in rng.gaussian() }
        let matrix = QuantizedMatrix(quantizing: values, rows: rows, cols: cols, format: format)
        let whole = matrix.dequantized()
        for row in 0..<rows {
            var decoded = [Float](repeating: .nan, count: cols)
            decoded.withUnsafeMutableBufferPointer { matrix.decodeRow(row, into: $0.baseAddress!) }
            #expect(quantBits(decoded) == quantBits(Array(whole[(row * cols)..<((row + 1) * cols)])))
        }
    }

    @Test("measured RMS relative error on N(0, 1) weights")
    func gaussianError() {
        var rng = SplitMix(state: 14)
        let (rows, cols) = (256, 1024)
        let weights = (0..<rows * cols).map { _ in rng.gaussian() }
        var errors: [WeightFormat: Double] = [:]
        for format in WeightFormat.allCases {
            let matrix = QuantizedMatrix(quantizing: weights, rows: rows, cols: cols, format: format)
            errors[format] = QuantizedMatrix.relativeRMSError(original: weights, approximation: matrix.dequantized())
        }
        #expect(errors[.bf16]! < 0.003)
        #expect(errors[.f16]! < 0.0004)
        #expect(errors[.q8]! < 0.008)
        #expect(errors[.q4]! < 0.14)
    }
}

/// Quantizes one vector to q8 as vl_quant.h documents: per block d = max|x| / 127, q = round(x / d) (ties away).
private func referenceQ8(_ x: ArraySlice<Float>) -> (scales: [Float], values: [Int]) {
    var scales: [Float] = []
    var values: [Int] = []
    for start in stride(from: x.startIndex, to: x.endIndex, by: 32) {
        let block = x[start..<start + 32]
        let d = block.map { abs($0) }.max()! / 127
        scales.append(d)
        values += block.map { d == 0 ? 0 : Int(max(-127, min(127, ($0 / d).rounded()))) }
    }
    return (scales, values)
}

/// A `[rows, cols]` Gaussian matrix quantized in `format`, its dequantized F32 copy and 16 input vectors.
private struct QuantProblem {
    let rows: Int
    let cols: Int
    let matrix: QuantizedMatrix
    let dequantized: [Float]
    let inputs: [Float]

    init(rows: Int, cols: Int, format: WeightFormat, seed: UInt64) {
        var rng = SplitMix(state: seed &* 1_000_003 &+ UInt64(cols))
        self.rows = rows
        self.cols = cols
        let weights = (0..<rows * cols).map { _ in rng.gaussian() }
        matrix = QuantizedMatrix(quantizing: weights, rows: rows, cols: cols, format: format)
        dequantized = matrix.dequantized()
        inputs = (0..<16 * cols).map { _ in rng.float() }
    }

    /// The kernel on rows `range`, vectors `vectors` (of the 16), into `outputs` (`[vectors.count, rows]`).
    func run(_ isa: InstructionSet, rows range: Range<Int>, vectors: Range<Int>, into outputs: inout [Float]) {
        let prepared = ProductInputs(
            Array(inputs[vectors.lowerBound * cols..<vectors.upperBound * cols]), batch: vectors.count, cols: cols,
            for: matrix.format, isa: isa)
        outputs.withUnsafeMutableBufferPointer { y in
            matrix.matvec(rows: range, inputs: prepared, outputs: y.baseAddress!, outputStride: rows, isa: isa)
        }
    }

    func output(_ isa: InstructionSet, batch: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: batch * rows)
        run(isa, rows: 0..<rows, vectors: 0..<batch, into: &y)
        return y
    }

    /// The F32 scalar kernel on the dequantized matrix.
    func reference(batch: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: batch * rows)
        dequantized.withUnsafeBufferPointer { w in
            inputs.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { out in
                    Kernels.matvec(
                        weights: .f32(w.baseAddress!), rows: 0..<rows, cols: cols, inputs: x.baseAddress!,
                        batch: batch, outputs: out.baseAddress!, outputStride: rows, isa: .scalar)
                }
            }
        }
        return y
    }

    /// The q8 × q8 / q4 × q8 order of vl_quant.h, written from its documentation: per block an exact integer,
    /// scaled by d_w * d_x and fused into one float sum.
    func integerReference(batch: Int) -> [Float] {
        let (scales, values) = decode(matrix)
        let blocks = cols / 32
        var y = [Float](repeating: .nan, count: batch * rows)
        for b in 0..<batch {
            let x = referenceQ8(inputs[b * cols..<(b + 1) * cols])
            for r in 0..<rows {
                var s: Float = 0
                for j in 0..<blocks {
                    let sum = (0..<32).reduce(0) { $0 + values[r * cols + j * 32 + $1] * x.values[j * 32 + $1] }
                    s.addProduct(Float(sum), scales[r * blocks + j] * x.scales[j])
                }
                y[b * rows + r] = s
            }
        }
        return y
    }
}

private let quantCols = [32, 64, 96, 1024, 1056]
private let quantRows = 37  // two row groups of 16 and a part of a third

@Suite("Quantized matrix-vector kernels")
struct QuantizedMatvecTests {
    @Test("bf16 and f16 equal the F32 scalar kernel on the dequantized matrix", arguments: InstructionSet.reachable)
    func halvesMatchDequantized(isa: InstructionSet) {
        for format in [WeightFormat.bf16, .f16] {
            for cols in quantCols + [1, 17, 255] {
                let problem = QuantProblem(rows: quantRows, cols: cols, format: format, seed: 21)
                for batch in [1, 3, 8] {
                    #expect(
                        quantBits(problem.output(isa, batch: batch)) == quantBits(problem.reference(batch: batch)),
                        "\(format) cols \(cols) batch \(batch)")
                }
            }
        }
    }

    @Test(
        "q8 and q4 follow the documented integer order bit for bit", arguments: InstructionSet.reachable, quantCols)
    func blocksMatchIntegerReference(isa: InstructionSet, cols: Int) {
        for format in blockFormats {
            let problem = QuantProblem(rows: quantRows, cols: cols, format: format, seed: 21)
            for batch in [1, 3, 8, 9, 16] {  // over 8: groups of 8, then a remainder
                #expect(
                    quantBits(problem.output(isa, batch: batch))
                        == quantBits(problem.integerReference(batch: batch)), "\(format) batch \(batch)")
            }
        }
    }

    @Test("q8 and q4 stay within 1 % (RMS) of the float product on the dequantized weights")
    func inputQuantizationError() {
        for format in blockFormats {
            let problem = QuantProblem(rows: 64, cols: 1024, format: format, seed: 24)
            let error = QuantizedMatrix.relativeRMSError(
                original: problem.reference(batch: 8), approximation: problem.output(.active, batch: 8))
            #expect(error < 0.01, "\(format): \(error)")
        }
    }

    @Test("batch size and row splits do not change any bit", arguments: InstructionSet.reachable, quantCols)
    func invariance(isa: InstructionSet, cols: Int) {
        for format in WeightFormat.allCases {
            let problem = QuantProblem(rows: quantRows, cols: cols, format: format, seed: 22)
            let batched = problem.output(isa, batch: 8)
            for b in 0..<8 {
                var single = [Float](repeating: .nan, count: quantRows)
                problem.run(isa, rows: 0..<quantRows, vectors: b..<b + 1, into: &single)
                #expect(quantBits(single) == quantBits(Array(batched[b * quantRows..<(b + 1) * quantRows])))
            }
            for batch in [1, 3, 8] {
                let whole = problem.output(isa, batch: batch)
                for split in [1, 5, 16, 21, 32] {  // inside the first group, at a group's end, inside the last
                    var parts = [Float](repeating: .nan, count: batch * quantRows)
                    problem.run(isa, rows: 0..<split, vectors: 0..<batch, into: &parts)
                    problem.run(isa, rows: split..<quantRows, vectors: 0..<batch, into: &parts)
                    #expect(quantBits(parts) == quantBits(whole), "\(format) batch \(batch) split \(split)")
                }
            }
        }
    }

    @Test("an empty row range or batch writes nothing", arguments: InstructionSet.reachable, WeightFormat.allCases)
    func emptyRanges(isa: InstructionSet, format: WeightFormat) {
        let problem = QuantProblem(rows: 3, cols: 64, format: format, seed: 23)
        var y = [Float](repeating: 42, count: 8 * 3)
        problem.run(isa, rows: 2..<2, vectors: 0..<8, into: &y)
        problem.run(isa, rows: 0..<3, vectors: 0..<0, into: &y)
        #expect(y.allSatisfy { $0 == 42 })
    }

    @Test(
        "q8 and q4 quantization give the same bytes on every ISA: ties, tiny, huge and non-finite blocks",
        arguments: InstructionSet.reachable)
    func quantizerIsaInvariant(isa: InstructionSet) {
        var rng = SplitMix(state: 25)
        var values: [Float] = (0..<32 * 40).map { i in
            let exponent = Double(i / 32 % 9 * 9 - 40)
            return rng.gaussian() * Float(pow(10.0, exponent))
        }
        // ties: with max 127, x / d lands on k + 0.5 exactly
        for i in 0..<32 { values[i] = i == 0 ? 127 : Float(i % 7) + 0.5 }
        for i in 32..<64 { values[i] = i == 32 ? -127 : -Float(i % 9) - 0.5 }
        values[64 + 5] = .nan
        values[96 + 3] = .infinity
        values[128 + 7] = -.infinity
        values[160 + 1] = Float.leastNonzeroMagnitude
        for format in blockFormats {
            let expected = QuantizedMatrix(quantizing: values, rows: 40, cols: 32, format: format, isa: .scalar).bytes
            #expect(QuantizedMatrix(quantizing: values, rows: 40, cols: 32, format: format, isa: isa).bytes == expected)
        }
        // and the scalar bytes follow the documented rounding (ties away from zero)
        let (scales, ints) = decode(QuantizedMatrix(quantizing: values, rows: 40, cols: 32, format: .q8, isa: .scalar))
        #expect(scales[0] == 1 && ints[1] == 2 && ints[2] == 3 && ints[33] == -7 && ints[34] == -8)
    }
}

@Suite("Load-time conversion of checkpoint tensors")
struct WeightConversionTests {
    @Test("bf16 and f16 tensors kept in their own type are copied bit for bit; others go through Float")
    func convertsTensors() throws {
        var rng = SplitMix(state: 26)
        let floats = (0..<4 * 64).map { _ in rng.gaussian() }
        let bf16 = floats.map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }
        let f16 = floats.map { Float16($0).bitPattern }
        typealias Tensor = SafeTensorsWriter.Tensor
        let file = SafeTensorsWriter.file([
            Tensor(name: "a.bf16", dtype: "BF16", shape: [4, 64], data: SafeTensorsWriter.bytes(bf16)),
            Tensor(name: "a.f16", dtype: "F16", shape: [4, 64], data: SafeTensorsWriter.bytes(f16)),
            Tensor(
                name: "a.f32", dtype: "F32", shape: [4, 64], data: SafeTensorsWriter.bytes(floats.map(\.bitPattern))),
            Tensor(name: "a.vector", dtype: "F32", shape: [64], data: [UInt8](repeating: 0, count: 256)),
            Tensor(name: "a.odd", dtype: "F32", shape: [2, 48], data: [UInt8](repeating: 0, count: 384)),
        ])
        try SafeTensorsWriter.withDirectory(["model.safetensors": file]) { directory in
            let file = try SafeTensorsFile(path: directory + "/model.safetensors")
            let keptBF16 = try QuantizedMatrix(converting: file.tensor(named: "a.bf16"), format: .bf16)
            #expect(keptBF16.bytes == SafeTensorsWriter.bytes(bf16))
            // Kept verbatim, a 16-bit tensor is read where it is mapped (copied only at an odd address).
            let even = try file.tensor(named: "a.bf16").withUnsafeBytes { Int(bitPattern: $0.baseAddress) % 2 == 0 }
            #expect(keptBF16.isMapped == even)
            let keptF16 = try QuantizedMatrix(converting: file.tensor(named: "a.f16"), format: .f16)
            #expect(keptF16.bytes == SafeTensorsWriter.bytes(f16))
            for format in WeightFormat.allCases {
                let fromF32 = try QuantizedMatrix(converting: file.tensor(named: "a.f32"), format: format)
                #expect(fromF32.bytes == QuantizedMatrix(quantizing: floats, rows: 4, cols: 64, format: format).bytes)
                #expect(fromF32.rows == 4 && fromF32.cols == 64)
            }
            let fromBF16 = try QuantizedMatrix(converting: file.tensor(named: "a.bf16"), format: .q4)
            let widened = bf16.map { Float(bitPattern: UInt32($0) << 16) }
            #expect(fromBF16.bytes == QuantizedMatrix(quantizing: widened, rows: 4, cols: 64, format: .q4).bytes)

            for (name, format) in [("a.vector", WeightFormat.bf16), ("a.odd", .q8)] {
                let expected = CoreError.invalidWeightShape(
                    path: file.path, tensor: name, shape: name == "a.odd" ? [2, 48] : [64], format: "\(format)")
                #expect(throws: expected) { try QuantizedMatrix(converting: file.tensor(named: name), format: format) }
            }
        }
    }
}

@Suite("Weights read from the checkpoint mapping")
struct MappedWeightTests {
    @Test("a mapped bf16 matrix outlives the file object and its pages can be released")
    func mappedMatrixOutlivesItsFile() throws {
        // A 6-byte metadata value makes the header length even, so the tensor starts at an even address.
        let bits = (0..<(8 * 64)).map { UInt16(truncatingIfNeeded: 0x3F80 + $0) }
        for padding in ["ab", "abc"] {
            let bytes = SafeTensorsWriter.file(
                [.init(name: "w", dtype: "BF16", shape: [8, 64], data: SafeTensorsWriter.bytes(bits))],
                metadata: ["p": padding])
            let matrix = try SafeTensorsWriter.withDirectory(["model.safetensors": bytes]) { directory in
                let tensor = try SafeTensorsFile(path: directory + "/model.safetensors").tensor(named: "w")
                tensor.releaseResidentPages()
                return try QuantizedMatrix(converting: tensor, format: .bf16)
            }
            #expect(matrix.bytes == SafeTensorsWriter.bytes(bits))
            #expect(matrix.dequantized() == bits.map { Float(bitPattern: UInt32($0) << 16) })
        }
    }
}
