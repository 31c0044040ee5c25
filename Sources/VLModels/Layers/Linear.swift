import VLCore

/// `y = x Wᵀ + b` for a batch of rows, as `nn.Linear` computes it, with the weight in the run's `WeightFormat`.
///
/// Few rows (decode steps) go through the matrix-vector kernels, which read each weight once for up to eight rows;
/// many rows (prefill, the vision tower) go through the matrix multiply, which packs each weight panel once for all
/// rows. Either way q8 / q4 weights multiply q8-quantized inputs in integers, bf16 / f16 weights the fp32 inputs.
public struct Linear: Sendable {
    /// Row counts up to this take the matrix-vector kernels: one pass over the weights serves them all.
    static let matvecRowLimit = 8
    /// Output columns per unit of the matrix multiply's thread split (a multiple of every kernel's panel width).
    static let matmulColumnUnit = 64

    /// `[outFeatures, inFeatures]`.
    public let weight: QuantizedMatrix
    /// `[outFeatures]`, or nil for a layer without bias.
    public let bias: [Float]?

    /// The input width.
    public var inFeatures: Int { weight.cols }
    /// The output width.
    public var outFeatures: Int { weight.rows }

    /// A layer from a weight matrix and an optional bias of its output width.
    public init(weight: QuantizedMatrix, bias: [Float]?) {
        precondition(bias == nil || bias!.count == weight.rows, "bias length differs from the output width")
        self.weight = weight
        self.bias = bias
    }

    /// Loads `name.weight` (`[outFeatures, inFeatures]`, or a convolution kernel given by `weightShape`) and, when
    /// `hasBias`, `name.bias`.
    public init(
        _ name: String, from store: WeightStore, inFeatures: Int, outFeatures: Int, hasBias: Bool,
        format: WeightFormat, weightShape: [Int]? = nil
    ) throws(ModelError) {
        let shape = weightShape ?? [outFeatures, inFeatures]
        let weight = try store.matrix(name + ".weight", shape: shape, format: format)
        let bias = hasBias ? try store.floats(name + ".bias", shape: [outFeatures]) : nil
        self.init(weight: weight, bias: bias)
    }

    /// `output[r] = input[r] Wᵀ + b` for `rows` rows; `input` is `[rows, inFeatures]`, `output` `[rows, outFeatures]`.
    public func apply(
        _ input: UnsafeBufferPointer<Float>, rows: Int, into output: UnsafeMutableBufferPointer<Float>,
        pool: ComputePool
    ) {
        let (k, n) = (inFeatures, outFeatures)
        precondition(input.count >= rows * k && output.count >= rows * n, "buffers smaller than [rows, features]")
        guard rows > 0, let x = input.baseAddress, let y = output.baseAddress else { return }
        if rows <= Self.matvecRowLimit {
            let inputs = ProductInputs(
                UnsafeBufferPointer(start: x, count: rows * k), batch: rows, cols: k, for: weight.format)
            Self.matvec([self], inputs: inputs, into: y, offsets: [0, n], pool: pool)
            if let bias { addBias(bias, to: y, rows: rows) }
        } else {
            multiply(x, rows: rows, into: y, pool: pool)
        }
    }

    /// `layers[i].apply(input, rows:pool:)` for every `i`, for layers that read the same input (a query, key and
    /// value projection; a gate and an up projection). With few rows and one weight format the input is prepared
    /// once and all the layers' output rows are split over the pool in one loop, so a decode step meets the pool once
    /// per group instead of once per layer, and every thread streams its share of all the weights; the results are
    /// those of the separate calls bit for bit (rows are computed independently of how they are split).
    public static func apply(_ layers: [Linear], sharing input: [Float], rows: Int, pool: ComputePool) -> [[Float]] {
        guard let first = layers.first, rows > 0, rows <= matvecRowLimit,
            layers.allSatisfy({ $0.weight.format == first.weight.format && $0.inFeatures == first.inFeatures })
        else { return layers.map { $0.apply(input, rows: rows, pool: pool) } }
        precondition(input.count == rows * first.inFeatures, "input is not [rows, inFeatures]")
        let inputs = ProductInputs(input, batch: rows, cols: first.inFeatures, for: first.weight.format)
        var offsets = [0]
        for layer in layers { offsets.append(offsets.last! + layer.outFeatures) }
        let total = offsets.last!
        // `[rows, total]`: every layer's outputs side by side, one column block per layer.
        var joined = [Float](repeating: 0, count: rows * total)
        joined.withUnsafeMutableBufferPointer {
            matvec(layers, inputs: inputs, into: $0.baseAddress!, offsets: offsets, pool: pool)
        }
        return layers.enumerated().map { index, layer in
            var output = [Float](repeating: 0, count: rows * layer.outFeatures)
            for row in 0..<rows {
                let start = row * total + offsets[index]
                output.replaceSubrange(
                    (row * layer.outFeatures)..<((row + 1) * layer.outFeatures),
                    with: joined[start..<(start + layer.outFeatures)])
            }
            if let bias = layer.bias {
                output.withUnsafeMutableBufferPointer { layer.addBias(bias, to: $0.baseAddress!, rows: rows) }
            }
            return output
        }
    }

    /// The matrix-vector products of `layers` with the prepared `inputs`, the output rows of all layers split over the
    /// pool in one loop: layer `i` writes its `[batch, outFeatures]` results at `base + offsets[i]` with row stride
    /// `offsets.last` (`offsets` are the running sums of the layers' widths, from 0).
    private static func matvec(
        _ layers: [Linear], inputs: ProductInputs, into base: UnsafeMutablePointer<Float>, offsets: [Int],
        pool: ComputePool
    ) {
        let total = offsets.last!
        // Whole row groups per thread: q8 / q4 store rows in groups of 16, and a range that cut one would have both
        // threads compute it.
        let group = WeightFormat.rowGroup
        pool.parallelFor((total + group - 1) / group, minimumChunk: 4) { units in
            let range = (units.lowerBound * group)..<min(total, units.upperBound * group)
            for (index, layer) in layers.enumerated() {
                let lower = max(range.lowerBound, offsets[index])
                let upper = min(range.upperBound, offsets[index + 1])
                guard lower < upper else { continue }
                let local = (lower - offsets[index])..<(upper - offsets[index])
                layer.weight.matvec(rows: local, inputs: inputs, outputs: base + offsets[index], outputStride: total)
            }
        }
    }

    /// `[rows, outFeatures]` results for `[rows, inFeatures]` inputs in a new array.
    public func apply(_ input: [Float], rows: Int, pool: ComputePool) -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * outFeatures) { output, initialized in
            input.withUnsafeBufferPointer { apply($0, rows: rows, into: output, pool: pool) }
            initialized = rows * outFeatures
        }
    }

    /// The matrix-multiply path: columns split over the pool in units of `matmulColumnUnit`, one workspace each; q8 /
    /// q4 weights multiply the rows quantized to q8 once for all threads.
    private func multiply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, pool: ComputePool)
    {
        let (k, n) = (inFeatures, outFeatures)
        let units = (n + Self.matmulColumnUnit - 1) / Self.matmulColumnUnit
        let quantized =
            weight.format.isBlockQuantized
            ? ProductInputs(UnsafeBufferPointer(start: x, count: rows * k), batch: rows, cols: k, for: weight.format)
            : nil
        let withBias = { (body: (UnsafePointer<Float>?) -> Void) in
            if let bias { bias.withUnsafeBufferPointer { body($0.baseAddress) } } else { body(nil) }
        }
        withBias { biasPointer in
            pool.parallelFor(units) { unitRange in
                let first = unitRange.lowerBound * Self.matmulColumnUnit
                let columns = first..<min(n, unitRange.upperBound * Self.matmulColumnUnit)
                let size = weight.multiplyWorkspaceSize(columnCount: columns.count)
                let workspace = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64)
                defer { workspace.deallocate() }
                if let quantized {
                    weight.multiply(
                        inputs: quantized, columns: columns, bias: biasPointer, outputs: y, workspace: workspace)
                } else {
                    weight.multiply(
                        inputs: x, m: rows, columns: columns, bias: biasPointer, outputs: y, workspace: workspace)
                }
            }
        }
    }

    private func addBias(_ bias: [Float], to y: UnsafeMutablePointer<Float>, rows: Int) {
        let n = outFeatures
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows {
                let row = y + r * n
                for j in 0..<n { row[j] += b[j] }
            }
        }
    }
}
