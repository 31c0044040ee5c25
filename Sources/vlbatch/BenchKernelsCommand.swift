import ArgumentParser
import Dispatch
import Foundation
import VLCore

/// `vlbatch bench kernels`: kernel speed next to the machine's own limits, measured by the same tool.
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Print matrix-vector GB/s per weight format next to the measured read bandwidth and FMA peak.",
        discussion: """
            Shapes are those of Qwen2-VL-2B (hidden 1536, MLP 8960) and Qwen3.5-2B (hidden 2048, MLP 6144). \
            Each matrix is copied until the copies exceed --working-set-mb, and the copies are used in turn, so \
            the weights stream from memory as in decoding. Rows are split over the compute pool.
            """)

    @Option(help: "Threads in the compute pool (default: one per core).")
    var threads: Int = ComputePool().threadCount

    @Option(help: "Bytes of weights swept per pass, in MB; keep it well above the last-level cache.")
    var workingSetMb: Int = 512

    @OptionGroup var passes: BenchPasses

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if workingSetMb < 16 { throw ValidationError("--working-set-mb must be at least 16") }
    }

    func run() throws {
        let pool = ComputePool(threadCount: threads)
        let isa = InstructionSet.active
        print("instruction set \(isa)\(InstructionSet.activeNote.map { " (\($0))" } ?? ""), \(threads) threads")
        let probe = ReadProbe(pool: pool)
        print(
            String(
                format: "read bandwidth %.1f GB/s (streaming, %d threads)",
                probe.gigabytesPerSecond(passes: passes.repeats), threads))
        let peak = fmaPeak(pool: pool)
        print(String(format: "FMA peak %.1f GFLOP/s (fp32, %d threads)", peak, threads))
        printMatmulFigures(pool: pool, peak: peak)
        printAttentionFigures(pool: pool, peak: peak)
        printActivationFigures()
        // The bandwidth of this machine kind (a VM) drifts by tens of percent within minutes, so every row is timed
        // in alternation with the read probe, and its ratio is taken against the read speed measured alongside.
        print("shape (rows x cols)  weights  batch  ms/call   GB/s  read-GB/s  of-bandwidth  cost-vs-batch-1")
        let shapes = [(8960, 1536), (1536, 8960), (6144, 2048), (2048, 6144)]
        for (rows, cols) in shapes {
            for format in BenchWeights.allCases {
                let matrices = WeightSweep(rows: rows, cols: cols, weights: format, workingSetBytes: workingSetMb << 20)
                var single = 0.0
                for batch in [1, 8] {
                    var seconds = Double.infinity
                    var bandwidth = 0.0
                    for _ in 0..<passes.repeats {
                        bandwidth = max(bandwidth, probe.gigabytesPerSecond(passes: 1))
                        seconds = min(seconds, matrices.secondsPerCall(batch: batch, pool: pool, passes: 1))
                    }
                    if batch == 1 { single = seconds }
                    let gigabytes = Double(matrices.bytesPerMatrix) / seconds / 1e9
                    let label = "\(rows)x\(cols)".padding(toLength: 20, withPad: " ", startingAt: 0)
                    let weights = format.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                    let figures = String(
                        format: "%5d  %7.3f  %5.1f  %9.1f  %11.0f%%  %15.2fx", batch, seconds * 1e3, gigabytes,
                        bandwidth, gigabytes / bandwidth * 100, seconds / single)
                    print("\(label) \(weights) \(figures)")
                }
            }
        }
    }

    /// Matrix multiply of Qwen2-VL-2B's MLP up projection (K 1536 -> N 8960) for M tokens, columns split over the
    /// pool with one packing workspace per thread: fp32 products for f32 / bf16 / f16 weights against the FMA peak,
    /// integer products (inputs quantized to q8) for q8 / q4 weights against the int8 peak.
    private func printMatmulFigures(pool: ComputePool, peak: Double) {
        let (k, n) = (1536, 8960)
        let weights = (0..<(n * k)).map { Float($0 % 251) * 1e-3 - 0.125 }
        let stored = [WeightFormat.bf16, .f16, .q8, .q4].map {
            ($0, QuantizedMatrix(quantizing: weights, rows: n, cols: k, format: $0))
        }
        let integerPeak = int8Peak(pool: pool)
        let workspaceBytes = stored.map { $0.1.multiplyWorkspaceSize(columnCount: n / pool.threadCount + 1) }.max()!
        let workspaces = (0..<pool.threadCount).map { part in
            UnsafeMutableRawBufferPointer.allocate(byteCount: workspaceBytes, alignment: 64)
        }
        defer { for workspace in workspaces { workspace.deallocate() } }
        let split = { (part: Int) in (n * part / pool.threadCount)..<(n * (part + 1) / pool.threadCount) }
        // Timed in alternation with the peak probe, like the matvec rows with the read probe: the VM's clock drifts too.
        print("matmul (M x 1536 -> 8960)  weights  G(FL)OP/s  peak  of-peak")
        for m in [256, 1024] {
            let inputs = (0..<(m * k)).map { Float($0 % 13) * 0.01 }
            var outputs = [Float](repeating: 0, count: m * n)
            let rows: [(String, QuantizedMatrix?)] = [("f32", nil)] + stored.map { ($0.0.rawValue, $0.1) }
            for (label, matrix) in rows {
                let integer = matrix?.format.isBlockQuantized ?? false
                if integer && integerPeak == 0 { continue }
                let prepared = matrix.map { ProductInputs(inputs, batch: m, cols: k, for: $0.format) }
                let multiply = {
                    outputs.withUnsafeMutableBufferPointer { out in
                        pool.parallelFor(pool.threadCount) { parts in
                            for part in parts {
                                if let matrix, let prepared, integer {
                                    matrix.multiply(
                                        inputs: prepared, columns: split(part), bias: nil, outputs: out.baseAddress!,
                                        workspace: workspaces[part])
                                } else if let matrix {
                                    inputs.withUnsafeBufferPointer { x in
                                        matrix.multiply(
                                            inputs: x.baseAddress!, m: m, columns: split(part), bias: nil,
                                            outputs: out.baseAddress!, workspace: workspaces[part])
                                    }
                                } else {
                                    weights.withUnsafeBufferPointer { w in
                                        Kernels.matmul(
                                            inputs: inputs, m: m, k: k, weights: .f32(w.baseAddress!), n: n,
                                            columns: split(part), bias: nil, outputs: out.baseAddress!,
                                            workspace: workspaces[part])
                                    }
                                }
                            }
                        }
                    }
                }
                var seconds = Double.infinity
                var alongside = 0.0
                for _ in 0..<passes.repeats {
                    let probe = integer ? int8Peak(pool: pool, passes: 1) : fmaPeak(pool: pool, passes: 1)
                    alongside = max(alongside, probe)
                    seconds = min(seconds, best(of: 1, multiply))
                }
                let rate = 2.0 * Double(m * k * n) / seconds / 1e9
                let limit = max(integer ? integerPeak : peak, alongside)
                print(
                    "M=\(m)".padding(toLength: 26, withPad: " ", startingAt: 0)
                        + " \(label.padding(toLength: 8, withPad: " ", startingAt: 0)) "
                        + String(
                            format: "%9.1f  %6.1f  %5.0f%%  (%@)", rate, limit, rate / limit * 100,
                            integer ? "int8" : "fp32"))
            }
        }
    }

    /// Non-causal attention of one 448x448 image in Qwen2-VL's vision tower (1024 tokens, 16 heads of 80), heads split
    /// over the pool, with the online-softmax kernel the decoders use and with the matrix-multiply form the vision
    /// towers use; GFLOP/s counts the two products (4 T² H d).
    private func printAttentionFigures(pool: ComputePool, peak: Double) {
        let (tokens, heads, headDim) = (1024, 16, 80)
        let count = tokens * heads * headDim
        let queries = (0..<count).map { Float($0 % 97) * 0.01 - 0.48 }
        let keys = (0..<count).map { Float($0 % 89) * 0.01 - 0.44 }
        let values = (0..<count).map { Float($0 % 83) * 0.01 }
        var output = [Float](repeating: 0, count: count)
        let scratchSize = max(
            Kernels.attentionScratchSize(headDim: headDim),
            Kernels.matrixAttentionScratchSize(tokens: tokens, headDim: headDim))
        let scratch = (0..<pool.threadCount).map { _ in
            UnsafeMutableBufferPointer<Float>.allocate(capacity: scratchSize)
        }
        defer { for buffer in scratch { buffer.deallocate() } }
        let scale = 1 / Float(headDim).squareRoot()
        for (label, matrixForm) in [("online kernel ", false), ("matrix multiply", true)] {
            let seconds = best(of: passes.repeats) {
                output.withUnsafeMutableBufferPointer { out in
                    pool.parallelFor(pool.threadCount) { parts in
                        for part in parts {
                            let range = (heads * part / pool.threadCount)..<(heads * (part + 1) / pool.threadCount)
                            if matrixForm {
                                Kernels.matrixAttention(
                                    queries: queries, keys: keys, values: values, output: out.baseAddress!,
                                    tokens: tokens, heads: heads, headDim: headDim, scale: scale, headRange: range,
                                    scratch: scratch[part])
                            } else {
                                Kernels.attention(
                                    queries: queries, keys: keys, values: values, output: out.baseAddress!,
                                    queryCount: tokens, keyCount: tokens, heads: heads, kvHeads: heads,
                                    headDim: headDim, scale: scale, mask: .none, headRange: range,
                                    scratch: scratch[part])
                            }
                        }
                    }
                }
            }
            let gflops = 4.0 * Double(tokens * tokens * heads * headDim) / seconds / 1e9
            print(
                String(
                    format: "attention (1024 tokens, 16 heads of 80, full), %@  %.1f ms  %.1f GFLOP/s  %.0f%% of peak",
                    label, seconds * 1e3, gflops, gflops / peak * 100))
        }
    }

    /// Element-wise activations over 1 M floats on one thread, in ns per element.
    private func printActivationFigures() {
        let input = (0..<(1 << 20)).map { Float($0 % 1601) * 0.01 - 8 }
        var output = [Float](repeating: 0, count: input.count)
        let figures = Kernels.Activation.allCases.map { activation in
            let seconds = best(of: passes.repeats) {
                input.withUnsafeBufferPointer { x in
                    output.withUnsafeMutableBufferPointer { Kernels.activate(activation, x, into: $0) }
                }
            }
            return String(format: "%@ %.2f", "\(activation)", seconds / Double(input.count) * 1e9)
        }
        print("activations, ns per element (1 thread): " + figures.joined(separator: ", "))
    }

    /// Independent FMA chains on every thread; best of the passes, in GFLOP/s.
    private func fmaPeak(pool: ComputePool, passes count: Int? = nil) -> Double {
        peakRate(pool: pool, passes: count) { Kernels.probeFMAPeak(iterations: $0) }
    }

    /// The int8 dot-product peak in GOP/s, or 0 on a CPU without AVX512_VNNI.
    private func int8Peak(pool: ComputePool, passes count: Int? = nil) -> Double {
        peakRate(pool: pool, passes: count) { Kernels.probeInt8Peak(iterations: $0) }
    }

    /// Operations per second, in billions, of `probe` (which returns the operations it did) on every thread.
    private func peakRate(pool: ComputePool, passes count: Int?, _ probe: @escaping (Int) -> Double) -> Double {
        let iterations = 20_000_000
        let seconds = best(of: count ?? passes.repeats) {
            pool.parallelFor(pool.threadCount) { parts in
                for _ in parts { _ = probe(iterations) }
            }
        }
        // The probe's operation count is a fixed number per iteration.
        return probe(1) * Double(iterations) * Double(pool.threadCount) / seconds / 1e9
    }
}

/// The weight storage a benchmark row measures: plain F32, or one of the formats of `QuantizedMatrix`.
enum BenchWeights: String, CaseIterable {
    case f32
    case bf16
    case f16
    case q8
    case q4

    /// Bytes per weight, including block scales.
    var bytesPerWeight: Double {
        switch self {
        case .f32: 4
        case .bf16, .f16: 2
        case .q8: 36.0 / 32
        case .q4: 20.0 / 32
        }
    }
}

/// Enough copies of one weight matrix to exceed the caches, with inputs and outputs for a batch of up to 8.
final class WeightSweep {
    let rows: Int
    let cols: Int
    let bytesPerMatrix: Int
    private let plain: [[Float]]
    private let stored: [QuantizedMatrix]
    private let inputs: UnsafeMutableBufferPointer<Float>
    private let outputs: UnsafeMutableBufferPointer<Float>

    init(rows: Int, cols: Int, weights: BenchWeights, workingSetBytes: Int) {
        self.rows = rows
        self.cols = cols
        bytesPerMatrix = Int(Double(rows * cols) * weights.bytesPerWeight)
        let copies = max(2, (workingSetBytes + bytesPerMatrix - 1) / bytesPerMatrix)
        // Small values of both signs; the exact numbers do not change the speed.
        let values = (0..<(rows * cols)).map { Float($0 % 255) * 1e-3 - 0.127 }
        if let format = WeightFormat(rawValue: weights.rawValue) {
            plain = []
            stored = (0..<copies).map { _ in QuantizedMatrix(quantizing: values, rows: rows, cols: cols, format: format)
            }
        } else {
            // `map` allocates each copy: `Array(repeating:)` would share one buffer and keep the weights in cache.
            plain = (0..<copies).map { _ in values.map { $0 } }
            stored = []
        }
        inputs = .allocate(capacity: 8 * cols)
        for index in inputs.indices { inputs[index] = Float(index % 17) * 0.01 }
        outputs = .allocate(capacity: 8 * rows)
        outputs.initialize(repeating: 0)
    }

    deinit {
        inputs.deallocate()
        outputs.deallocate()
    }

    /// Seconds per matrix-vector call, best of `passes` sweeps over every copy.
    func secondsPerCall(batch: Int, pool: ComputePool, passes: Int) -> Double {
        let copies = max(plain.count, stored.count)
        let total = best(of: passes) {
            for copy in 0..<copies { call(copy: copy, batch: batch, pool: pool) }
        }
        return total / Double(copies)
    }

    private func call(copy: Int, batch: Int, pool: ComputePool) {
        let (rows, cols, inputs, outputs) = (rows, cols, inputs.baseAddress!, outputs.baseAddress!)
        if stored.isEmpty {
            plain[copy].withUnsafeBufferPointer { matrix in
                pool.parallelFor(rows, minimumChunk: 64) { range in
                    Kernels.matvec(
                        weights: .f32(matrix.baseAddress!), rows: range, cols: cols, inputs: inputs, batch: batch,
                        outputs: outputs, outputStride: rows)
                }
            }
        } else {
            let matrix = stored[copy]
            // Preparing the inputs (q8 quantization for q8 / q4) is part of every product, so it is timed too.
            let prepared = ProductInputs(
                UnsafeBufferPointer(start: inputs, count: batch * cols), batch: batch, cols: cols, for: matrix.format)
            pool.parallelFor(rows, minimumChunk: 64) { range in
                matrix.matvec(rows: range, inputs: prepared, outputs: outputs, outputStride: rows)
            }
        }
    }
}

/// A streaming read of a 1 GiB buffer, each pool thread reading its own part: the machine's read bandwidth.
final class ReadProbe {
    private let pool: ComputePool
    private let buffer: UnsafeMutableRawBufferPointer

    init(pool: ComputePool) {
        self.pool = pool
        buffer = .allocate(byteCount: 1 << 30, alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 1)
    }

    deinit { buffer.deallocate() }

    /// Best of `passes` reads of the whole buffer, in GB/s.
    func gigabytesPerSecond(passes: Int) -> Double {
        let (pool, buffer, bytes) = (pool, buffer, buffer.count)
        let seconds = best(of: passes) {
            pool.parallelFor(pool.threadCount) { parts in
                for part in parts {
                    let slice = UnsafeRawBufferPointer(
                        rebasing: buffer[(bytes * part / pool.threadCount)..<(bytes * (part + 1) / pool.threadCount)])
                    _ = Kernels.probeReadBandwidth(slice, repeats: 1)
                }
            }
        }
        return Double(bytes) / seconds / 1e9
    }
}
