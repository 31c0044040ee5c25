import CVLKernels

/// Matrix multiply for prefill and the vision tower (`vl_matmul.h`).
///
/// Every output element is `s = +0; for k in 0..<K { s = fma(X[m][k], W[n][k], s) }; Y[m][n] = s + bias[n]`,
/// sequential over `k`, in the same order for every instruction set, column range and block size: results are
/// bit-identical across ISAs and thread splits.
extension Kernels {
    /// Bytes of workspace `matmul` needs for inner dimension `k` and a range of `columnCount` output columns
    /// (the same for every instruction set; 64-byte alignment is recommended).
    public static func matmulWorkspaceSize(k: Int, columnCount: Int) -> Int {
        precondition(k >= 0 && columnCount >= 0, "negative matmul shape")
        return vl_matmul_workspace_size(k, columnCount)
    }

    /// `outputs[i * n + j] = Σ_kk inputs[i * k + kk] * W[j * k + kk] (+ bias[j])` for `i < m`, `j` in `columns`.
    ///
    /// `inputs` is `[m, k]`, the weights `[n, k]` (row-major, as `nn.Linear` stores `[out, in]`), `outputs`
    /// `[m, n]`, `bias` nil or `[n]`. Only the columns in `columns` are written, so disjoint column ranges can run on
    /// different threads, each with its own `workspace` of at least `matmulWorkspaceSize(k:columnCount:)` bytes.
    public static func matmul(
        inputs: UnsafePointer<Float>, m: Int, k: Int, weights: DenseWeights, n: Int, columns: Range<Int>,
        bias: UnsafePointer<Float>?, outputs: UnsafeMutablePointer<Float>, workspace: UnsafeMutableRawBufferPointer,
        isa: InstructionSet = .active
    ) {
        precondition(m >= 0 && k >= 0 && columns.lowerBound >= 0, "negative matmul shape")
        precondition(columns.upperBound <= n, "columns reach past n")
        precondition(
            workspace.count >= vl_matmul_workspace_size(k, columns.count), "workspace is smaller than required")
        switch weights {
        case .f32(let w):
            vl_matmul_f32(
                isa.cValue, inputs, m, k, w, n, columns.lowerBound, columns.upperBound, bias, outputs,
                workspace.baseAddress)
        case .bf16(let w):
            vl_matmul_bf16(
                isa.cValue, inputs, m, k, w, n, columns.lowerBound, columns.upperBound, bias, outputs,
                workspace.baseAddress)
        case .f16(let w):
            vl_matmul_f16(
                isa.cValue, inputs, m, k, w, n, columns.lowerBound, columns.upperBound, bias, outputs,
                workspace.baseAddress)
        }
    }
}

extension QuantizedMatrix {
    /// The matrix multiply with this matrix as the weights (`[rows, cols]` = `[n, k]`): `outputs[i * rows + j] =
    /// Σ_kk inputs[i * cols + kk] * W[j][kk] (+ bias[j])` for `i < m`, `j` in `columns`, in the order of
    /// `Kernels.matmul`. bf16 and f16 weights are used as stored; q8 and q4 weights as the values `dequantized()`
    /// gives, with fp32 inputs (no input quantization, unlike `matvec`), so prefill keeps full-precision activations.
    ///
    /// Disjoint column ranges can run on different threads, each with its own `workspace` of at least
    /// `Kernels.matmulWorkspaceSize(k: cols, columnCount: columns.count)` bytes.
    public func multiply(
        inputs: UnsafePointer<Float>, m: Int, columns: Range<Int>, bias: UnsafePointer<Float>?,
        outputs: UnsafeMutablePointer<Float>, workspace: UnsafeMutableRawBufferPointer, isa: InstructionSet = .active
    ) {
        precondition(m >= 0 && columns.lowerBound >= 0 && columns.upperBound <= rows, "columns outside the matrix")
        precondition(
            workspace.count >= Kernels.matmulWorkspaceSize(k: cols, columnCount: columns.count),
            "workspace is smaller than required")
        withUnsafeBytes { raw in
            let w = raw.baseAddress!
            let (isa, begin, end, space) = (isa.cValue, columns.lowerBound, columns.upperBound, workspace.baseAddress)
            let halves = w.assumingMemoryBound(to: UInt16.self)
            switch format {
            case .bf16: vl_matmul_bf16(isa, inputs, m, cols, halves, rows, begin, end, bias, outputs, space)
            case .f16: vl_matmul_f16(isa, inputs, m, cols, halves, rows, begin, end, bias, outputs, space)
            case .q8: vl_matmul_q8(isa, inputs, m, cols, w, rows, begin, end, bias, outputs, space)
            case .q4: vl_matmul_q4(isa, inputs, m, cols, w, rows, begin, end, bias, outputs, space)
            }
        }
    }
}
