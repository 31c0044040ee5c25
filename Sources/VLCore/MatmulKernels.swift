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
    /// Bytes of workspace `multiply` needs for a range of `columnCount` output columns: none for q8 and q4, whose
    /// layout is already the one the kernels read.
    public func multiplyWorkspaceSize(columnCount: Int) -> Int {
        precondition(columnCount >= 0, "negative column count")
        return format.isBlockQuantized ? 0 : vl_matmul_workspace_size(cols, columnCount)
    }

    /// The matrix multiply with this matrix as the weights (`[rows, cols]` = `[n, k]`), bf16 or f16:
    /// `outputs[i * rows + j] = Σ_kk inputs[i * cols + kk] * W[j][kk] (+ bias[j])` for `i < m`, `j` in `columns`, in
    /// the order of `Kernels.matmul`, with the fp32 inputs as they are.
    ///
    /// Disjoint column ranges can run on different threads, each with its own `workspace` of at least
    /// `multiplyWorkspaceSize(columnCount: columns.count)` bytes.
    ///
    /// - Precondition: the format is bf16 or f16 (q8 / q4 weights take prepared inputs).
    public func multiply(
        inputs: UnsafePointer<Float>, m: Int, columns: Range<Int>, bias: UnsafePointer<Float>?,
        outputs: UnsafeMutablePointer<Float>, workspace: UnsafeMutableRawBufferPointer, isa: InstructionSet = .active
    ) {
        precondition(!format.isBlockQuantized, "\(format) weights multiply prepared (q8) inputs")
        checkMultiply(m: m, columns: columns, workspace: workspace)
        withUnsafeBytes { raw in
            let halves = raw.baseAddress!.assumingMemoryBound(to: UInt16.self)
            let (isa, begin, end, space) = (isa.cValue, columns.lowerBound, columns.upperBound, workspace.baseAddress)
            if format == .bf16 {
                vl_matmul_bf16(isa, inputs, m, cols, halves, rows, begin, end, bias, outputs, space)
            } else {
                vl_matmul_f16(isa, inputs, m, cols, halves, rows, begin, end, bias, outputs, space)
            }
        }
    }

    /// The matrix multiply with this matrix as the weights, q8 or q4: `outputs[i * rows + j] = Σ_kk x_i[kk] *
    /// W[j][kk] (+ bias[j])` for the `inputs.batch` rows `x_i` of `inputs` (quantized to q8) and `j` in `columns`, in
    /// integers, in the order of `vl_qproduct` (`vl_quant.h`), as llama.cpp multiplies Q8_0 / Q4_0 matrices: the
    /// same order as `matvec`, so prefill and decoding give the same bits.
    ///
    /// Disjoint column ranges can run on different threads with the same `inputs`, each with its own `workspace` as
    /// above.
    ///
    /// - Precondition: the format is q8 or q4, and `inputs` was prepared for it and this matrix's column count.
    public func multiply(
        inputs: ProductInputs, columns: Range<Int>, bias: UnsafePointer<Float>?, outputs: UnsafeMutablePointer<Float>,
        workspace: UnsafeMutableRawBufferPointer, isa: InstructionSet = .active
    ) {
        precondition(
            format.isBlockQuantized && inputs.isQuantized && inputs.cols == cols, "inputs not prepared for \(format)")
        checkMultiply(m: inputs.batch, columns: columns, workspace: workspace)
        withUnsafeBytes { raw in
            inputs.storage.withUnsafeBytes { prepared in
                guard let w = raw.baseAddress, let x = prepared.baseAddress else { return }
                let (begin, end) = (columns.lowerBound, columns.upperBound)
                vl_qproduct(isa.cValue, format.blockFormat!, w, cols, begin, end, x, inputs.batch, bias, outputs, rows)
            }
        }
    }

    private func checkMultiply(m: Int, columns: Range<Int>, workspace: UnsafeMutableRawBufferPointer) {
        precondition(m >= 0 && columns.lowerBound >= 0 && columns.upperBound <= rows, "columns outside the matrix")
        precondition(
            workspace.count >= multiplyWorkspaceSize(columnCount: columns.count), "workspace is smaller than required")
    }
}
