import Foundation
import VLCore

/// The Qwen2-VL / Qwen2.5-VL vision tower: `pixel_values` of one or more images in, merged visual features (one row
/// per 2×2 patch block, of the text model's width) out.
///
/// Port of transformers' `Qwen2VisionTransformerPretrainedModel` (modeling_qwen2_vl.py) and
/// `Qwen2_5_VisionTransformerPretrainedModel` (modeling_qwen2_5_vl.py); qwen-architecture.md §3.1, §3.2. All compute is
/// fp32 on weights read from bf16 or f16, so an fp32 transformers run is the reference.
public struct Qwen2VisionTower: Sendable {
    /// The tower's configuration.
    public let vision: Qwen2VLConfig.Vision
    /// Qwen2-VL or Qwen2.5-VL: norms, MLP and windowing differ.
    public let family: Qwen2VLConfig.Family
    /// `patch_embed.proj`: the Conv3d with stride = kernel, as a Linear over `patchDimension` columns, no bias.
    let patchEmbed: Linear
    let blocks: [Block]
    let merger: Merger
    let rotary: VisionRotaryTable

    /// transformers hard-codes this epsilon for every norm of both towers.
    static let normEpsilon: Float = 1e-6
    /// Rows per pass through the MLPs, so their wide intermediate stays small on large images.
    static let mlpRowChunk = 1024

    /// Loads the `model.visual.*` tensors (canonical names) with matrices in `format` (a dense format: .bf16 or .f16;
    /// the caller passes .bf16 when the run uses q8/q4, since the matrix multiply reads only dense weights).
    ///
    /// A block-quantized `format` is treated as .bf16.
    public init(config: Qwen2VLConfig, store: WeightStore, format: WeightFormat) throws(ModelError) {
        let vision = config.vision
        let dense: WeightFormat = format.isBlockQuantized ? .bf16 : format
        self.vision = vision
        family = config.family
        let patchShape = [
            vision.width, vision.inChannels, vision.temporalPatchSize, vision.patchSize, vision.patchSize,
        ]
        patchEmbed = try Linear(
            "model.visual.patch_embed.proj", from: store, inFeatures: vision.patchDimension,
            outFeatures: vision.width, hasBias: false, format: dense, weightShape: patchShape)
        var blocks: [Block] = []
        for index in 0..<vision.depth {
            blocks.append(
                try Block(
                    "model.visual.blocks.\(index)", from: store, vision: vision, family: config.family, format: dense))
        }
        self.blocks = blocks
        merger = try Merger("model.visual.merger", from: store, vision: vision, family: config.family, format: dense)
        rotary = VisionRotaryTable(headDim: vision.headDim)
    }

    /// The merged visual features of `images`, in order, each image attending only to itself:
    /// `[Σ patchCount/4, config.vision.outputSize]` row-major.
    public func encode(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> [Float] {
        try encode(images, pool: pool, inspect: nil)
    }

    /// `encode`, handing each intermediate to `inspect` as transformers holds it, under its module name:
    /// `patch_embed` (`[patches, width]`, `pixel_values` order), `blocks.0` … (`[patches, width]`; for Qwen2.5-VL in
    /// the windowed order, like the hidden states between transformers' blocks) and `merger` (`[patches / 4,
    /// outputSize]`, windowed order; the return value is the same rows put back in image order).
    func encode(
        _ images: [ImagePatches], pool: ComputePool, inspect: ((_ name: String, _ values: [Float]) -> Void)?
    ) throws(ModelError) -> [Float] {
        try Self.validate(images, vision: vision)
        let grids = images.map(\.grid)
        let patches = grids.reduce(0) { $0 + $1.patchCount }
        guard patches > 0 else { return [] }
        let width = vision.width
        let unit = vision.mergeSize * vision.mergeSize

        var pixels: [Float] = []
        pixels.reserveCapacity(patches * vision.patchDimension)
        for image in images { pixels += image.values }
        var hidden = patchEmbed.apply(pixels, rows: patches, pool: pool)  // [patches, width]
        pixels = []
        inspect?("patch_embed", hidden)

        var (cosines, sines) = rotary.table(for: grids, mergeSize: vision.mergeSize)  // [patches, headDim] each
        let windowSide =
            family == .qwen25VL ? vision.windowSize / vision.mergeSize / vision.patchSize : nil
        let windows = VisionWindows(grids: grids, mergeSize: vision.mergeSize, windowSide: windowSide)
        let permuted = windows.isPermuted
        if permuted {
            // hidden_states.reshape(seq_len // 4, 4, -1)[window_index, :, :]; likewise rotary_pos_emb.
            hidden = Self.gather(hidden, units: windows.mergeUnitOrder, unitWidth: unit * width)
            cosines = Self.gather(cosines, units: windows.mergeUnitOrder, unitWidth: unit * vision.headDim)
            sines = Self.gather(sines, units: windows.mergeUnitOrder, unitWidth: unit * vision.headDim)
        }
        let rope = VisionRotaryTable.Rows(cos: cosines, sin: sines)
        let frameSegments = VisionWindows.segments(windows.frameBoundaries)
        let windowSegments = VisionWindows.segments(windows.windowBoundaries)

        let workspace = BlockWorkspace(rows: patches, vision: vision)
        defer { workspace.deallocate() }
        hidden.withUnsafeMutableBufferPointer { x in
            for (index, block) in blocks.enumerated() {
                let fullAttention = family == .qwen2VL || vision.fullAttentionBlocks.contains(index)
                block.apply(
                    x, rows: patches, rope: rope, segments: fullAttention ? frameSegments : windowSegments,
                    workspace: workspace, pool: pool)
                if let inspect { inspect("blocks.\(index)", Array(x)) }
            }
        }

        let merged = merger.apply(hidden, rows: patches, pool: pool)  // [patches / 4, outputSize]
        inspect?("merger", merged)
        guard permuted else { return merged }
        // merged[argsort(window_index)]: the row at windowed position i belongs to merge unit window_index[i].
        var features = [Float](repeating: 0, count: merged.count)
        let outputSize = vision.outputSize
        for (position, original) in windows.mergeUnitOrder.enumerated() {
            features[(original * outputSize)..<((original + 1) * outputSize)] =
                merged[(position * outputSize)..<((position + 1) * outputSize)]
        }
        return features
    }

    /// Rejects images a tower of `vision` cannot encode: another patch size, a grid that does not fill whole merge
    /// blocks, or `values` that do not match the grid.
    static func validate(_ images: [ImagePatches], vision: Qwen2VLConfig.Vision) throws(ModelError) {
        let merge = vision.mergeSize
        for (index, image) in images.enumerated() {
            let grid = image.grid
            guard image.patchDimension == vision.patchDimension else {
                throw .invalidInput(
                    reason: "image \(index): pixel rows are \(image.patchDimension) wide, the vision tower reads "
                        + "\(vision.patchDimension); was it preprocessed for another model?")
            }
            guard grid.temporal > 0, grid.height > 0, grid.width > 0, grid.height % merge == 0, grid.width % merge == 0
            else {
                throw .invalidInput(
                    reason: "image \(index): patch grid \(grid.temporal)x\(grid.height)x\(grid.width) is empty or "
                        + "not a multiple of \(merge) in height and width")
            }
            guard image.values.count == grid.patchCount * vision.patchDimension else {
                throw .invalidInput(
                    reason: "image \(index): \(image.values.count) pixel values for \(grid.patchCount) patches of "
                        + "\(vision.patchDimension)")
            }
        }
    }

    /// Units of `unitWidth` floats of `values`, in the order `units` lists them.
    static func gather(_ values: [Float], units: [Int], unitWidth: Int) -> [Float] {
        var result: [Float] = []
        result.reserveCapacity(values.count)
        for source in units { result += values[(source * unitWidth)..<((source + 1) * unitWidth)] }
        return result
    }
}

// MARK: - Layers

extension Qwen2VisionTower {
    /// `norm1` / `norm2` / `merger.ln_q`: LayerNorm with bias in Qwen2-VL, standard RMSNorm in Qwen2.5-VL.
    enum Norm: Sendable {
        case layer(LayerNorm)
        case rms(RMSNorm)

        init(_ name: String, from store: WeightStore, width: Int, family: Qwen2VLConfig.Family) throws(ModelError) {
            switch family {
            case .qwen2VL: self = .layer(try LayerNorm(name, from: store, width: width, epsilon: normEpsilon))
            case .qwen25VL: self = .rms(try RMSNorm(name, from: store, width: width, epsilon: normEpsilon))
            }
        }

        var width: Int {
            switch self {
            case .layer(let norm): norm.width
            case .rms(let norm): norm.width
            }
        }

        /// Normalises `rows` rows of `input` into `output` (may be the same memory), rows split over the pool.
        func apply(
            _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>, pool: ComputePool
        ) {
            let width = width
            pool.parallelFor(rows, minimumChunk: 16) { range in
                let count = range.count * width
                let source = UnsafeBufferPointer(start: input + range.lowerBound * width, count: count)
                let target = UnsafeMutableBufferPointer(start: output + range.lowerBound * width, count: count)
                switch self {
                case .layer(let norm): norm.apply(source, into: target)
                case .rms(let norm): norm.apply(source, into: target)
                }
            }
        }
    }

    /// The block MLP: `fc2(quick_gelu(fc1(x)))` in Qwen2-VL, `down(silu(gate(x)) * up(x))` (all with bias) in
    /// Qwen2.5-VL.
    enum MLP: Sendable {
        case quickGelu(fc1: Linear, fc2: Linear)
        case swiglu(gate: Linear, up: Linear, down: Linear)

        init(
            _ name: String, from store: WeightStore, vision: Qwen2VLConfig.Vision, family: Qwen2VLConfig.Family,
            format: WeightFormat
        ) throws(ModelError) {
            let (width, inner) = (vision.width, vision.intermediateSize)
            func linear(_ suffix: String, _ inputs: Int, _ outputs: Int) throws(ModelError) -> Linear {
                try Linear(
                    "\(name).\(suffix)", from: store, inFeatures: inputs, outFeatures: outputs, hasBias: true,
                    format: format)
            }
            switch family {
            case .qwen2VL:
                self = .quickGelu(fc1: try linear("fc1", width, inner), fc2: try linear("fc2", inner, width))
            case .qwen25VL:
                self = .swiglu(
                    gate: try linear("gate_proj", width, inner), up: try linear("up_proj", width, inner),
                    down: try linear("down_proj", inner, width))
            }
        }

        /// `[rows, width]` → `[rows, width]`; `inner` and `gated` hold at least `rows * intermediateSize` floats.
        func apply(
            _ input: UnsafeBufferPointer<Float>, rows: Int, into output: UnsafeMutableBufferPointer<Float>,
            inner: UnsafeMutableBufferPointer<Float>, gated: UnsafeMutableBufferPointer<Float>, pool: ComputePool
        ) {
            switch self {
            case .quickGelu(let fc1, let fc2):
                let hidden = UnsafeMutableBufferPointer(rebasing: inner[0..<(rows * fc1.outFeatures)])
                fc1.apply(input, rows: rows, into: hidden, pool: pool)
                activate(.quickGelu, hidden, pool: pool)
                fc2.apply(UnsafeBufferPointer(hidden), rows: rows, into: output, pool: pool)
            case .swiglu(let gate, let up, let down):
                let count = rows * gate.outFeatures
                let gates = UnsafeMutableBufferPointer(rebasing: inner[0..<count])
                let ups = UnsafeMutableBufferPointer(rebasing: gated[0..<count])
                gate.apply(input, rows: rows, into: gates, pool: pool)
                up.apply(input, rows: rows, into: ups, pool: pool)
                pool.parallelFor(count, minimumChunk: 4096) { range in
                    Kernels.swiglu(
                        gate: UnsafeBufferPointer(rebasing: gates[range]),
                        up: UnsafeBufferPointer(rebasing: ups[range]),
                        into: UnsafeMutableBufferPointer(rebasing: gates[range]))
                }
                down.apply(UnsafeBufferPointer(gates), rows: rows, into: output, pool: pool)
            }
        }
    }

    /// One pre-norm block: `x += proj(attention(rope(qkv(norm1(x))))); x += mlp(norm2(x))`.
    struct Block: Sendable {
        let norm1: Norm
        let norm2: Norm
        /// `attn.qkv`: `[3 * width, width]`; output features are `[q | k | v]`, each head-major.
        let qkv: Linear
        /// `attn.proj`.
        let proj: Linear
        let mlp: MLP
        let heads: Int

        init(
            _ name: String, from store: WeightStore, vision: Qwen2VLConfig.Vision, family: Qwen2VLConfig.Family,
            format: WeightFormat
        ) throws(ModelError) {
            let width = vision.width
            norm1 = try Norm(name + ".norm1", from: store, width: width, family: family)
            norm2 = try Norm(name + ".norm2", from: store, width: width, family: family)
            qkv = try Linear(
                name + ".attn.qkv", from: store, inFeatures: width, outFeatures: 3 * width, hasBias: true,
                format: format)
            proj = try Linear(
                name + ".attn.proj", from: store, inFeatures: width, outFeatures: width, hasBias: true, format: format)
            mlp = try MLP(name + ".mlp", from: store, vision: vision, family: family, format: format)
            heads = vision.heads
        }

        /// Runs the block in place on `x` (`[rows, width]`); each range of `segments` is one attention sequence.
        func apply(
            _ x: UnsafeMutableBufferPointer<Float>, rows: Int, rope: VisionRotaryTable.Rows, segments: [Range<Int>],
            workspace: BlockWorkspace, pool: ComputePool
        ) {
            let width = norm1.width
            let headDim = width / heads
            let w = workspace
            norm1.apply(x.baseAddress!, rows: rows, into: w.normed.baseAddress!, pool: pool)
            qkv.apply(UnsafeBufferPointer(w.normed), rows: rows, into: w.qkv, pool: pool)  // [rows, 3, heads, headDim]
            // qkv.reshape(seq, 3, heads, -1).permute(1, 0, 2, 3).unbind(0), then apply_rotary_pos_emb_vision (fp32).
            let rotated = [w.queries, w.keys]
            rope.cos.withUnsafeBufferPointer { cos in
                rope.sin.withUnsafeBufferPointer { sin in
                    pool.parallelFor(rows, minimumChunk: 16) { range in
                        for row in range {
                            let source = w.qkv.baseAddress! + row * 3 * width
                            let token = (row * width)..<((row + 1) * width)
                            let angles = (row * headDim)..<((row + 1) * headDim)
                            (w.values.baseAddress! + token.lowerBound).update(from: source + 2 * width, count: width)
                            for (part, target) in rotated.enumerated() {
                                (target.baseAddress! + token.lowerBound).update(
                                    from: source + part * width, count: width)
                                Kernels.ropeRotateHalf(
                                    UnsafeMutableBufferPointer(rebasing: target[token]),
                                    cos: UnsafeBufferPointer(rebasing: cos[angles]),
                                    sin: UnsafeBufferPointer(rebasing: sin[angles]), heads: heads, headDim: headDim,
                                    rotaryDim: headDim)
                            }
                        }
                    }
                }
            }
            attend(workspace: w, width: width, segments: segments, pool: pool)  // [rows, heads, headDim]
            proj.apply(UnsafeBufferPointer(w.attended), rows: rows, into: w.normed, pool: pool)
            add(w.normed, to: x, count: rows * width, pool: pool)

            for start in stride(from: 0, to: rows, by: Qwen2VisionTower.mlpRowChunk) {
                let count = min(Qwen2VisionTower.mlpRowChunk, rows - start)
                let chunk = (start * width)..<((start + count) * width)
                norm2.apply(x.baseAddress! + chunk.lowerBound, rows: count, into: w.normed.baseAddress!, pool: pool)
                let output = UnsafeMutableBufferPointer(rebasing: w.attended[0..<chunk.count])
                mlp.apply(
                    UnsafeBufferPointer(rebasing: w.normed[0..<chunk.count]), rows: count, into: output,
                    inner: w.inner, gated: w.gated, pool: pool)
                add(output, to: UnsafeMutableBufferPointer(rebasing: x[chunk]), count: chunk.count, pool: pool)
            }
        }

        /// Non-causal attention within each segment, scale `headDim^-0.5`, heads split over the pool.
        private func attend(workspace w: BlockWorkspace, width: Int, segments: [Range<Int>], pool: ComputePool) {
            let headDim = width / heads
            let scale = Float(1 / Double(headDim).squareRoot())
            pool.parallelFor(heads) { headRange in
                let scratch = UnsafeMutableBufferPointer<Float>.allocate(
                    capacity: Kernels.attentionScratchSize(headDim: headDim))
                defer { scratch.deallocate() }
                for segment in segments {
                    let offset = segment.lowerBound * width
                    Kernels.attention(
                        queries: w.queries.baseAddress! + offset, keys: w.keys.baseAddress! + offset,
                        values: w.values.baseAddress! + offset, output: w.attended.baseAddress! + offset,
                        queryCount: segment.count, keyCount: segment.count, heads: heads, kvHeads: heads,
                        headDim: headDim, scale: scale, mask: .none, headRange: headRange, scratch: scratch)
                }
            }
        }
    }

    /// `merger`: `ln_q` per patch, 4 consecutive patches viewed as one `4 * width` row, `mlp.0` → GELU (erf) →
    /// `mlp.2`.
    struct Merger: Sendable {
        let norm: Norm
        let fc1: Linear
        let fc2: Linear

        init(
            _ name: String, from store: WeightStore, vision: Qwen2VLConfig.Vision, family: Qwen2VLConfig.Family,
            format: WeightFormat
        ) throws(ModelError) {
            let merged = vision.width * vision.mergeSize * vision.mergeSize
            norm = try Norm(name + ".ln_q", from: store, width: vision.width, family: family)
            fc1 = try Linear(
                name + ".mlp.0", from: store, inFeatures: merged, outFeatures: merged, hasBias: true, format: format)
            fc2 = try Linear(
                name + ".mlp.2", from: store, inFeatures: merged, outFeatures: vision.outputSize, hasBias: true,
                format: format)
        }

        /// `[rows, width]` patches → `[rows / 4, outputSize]`.
        func apply(_ hidden: [Float], rows: Int, pool: ComputePool) -> [Float] {
            var normed = hidden
            normed.withUnsafeMutableBufferPointer { buffer in
                norm.apply(buffer.baseAddress!, rows: rows, into: buffer.baseAddress!, pool: pool)
            }
            let groups = rows * norm.width / fc1.inFeatures
            var inner = fc1.apply(normed, rows: groups, pool: pool)  // [rows / 4, 4 * width]
            inner.withUnsafeMutableBufferPointer { activate(.geluErf, $0, pool: pool) }
            return fc2.apply(inner, rows: groups, pool: pool)
        }
    }

    /// The per-call buffers of the blocks, sized for `rows` patches; reused by every block.
    struct BlockWorkspace {
        /// `[rows, width]`: a norm's output, then the attention projection's.
        let normed: UnsafeMutableBufferPointer<Float>
        /// `[rows, 3 * width]`.
        let qkv: UnsafeMutableBufferPointer<Float>
        /// `[rows, heads, headDim]` each, rotated.
        let queries: UnsafeMutableBufferPointer<Float>
        let keys: UnsafeMutableBufferPointer<Float>
        let values: UnsafeMutableBufferPointer<Float>
        /// `[rows, heads, headDim]`: the attention output, then an MLP chunk's output.
        let attended: UnsafeMutableBufferPointer<Float>
        /// `[mlpRowChunk, intermediateSize]` each.
        let inner: UnsafeMutableBufferPointer<Float>
        let gated: UnsafeMutableBufferPointer<Float>

        init(rows: Int, vision: Qwen2VLConfig.Vision) {
            let width = vision.width
            func buffer(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
                let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
                buffer.initialize(repeating: 0)
                return buffer
            }
            normed = buffer(rows * width)
            qkv = buffer(rows * 3 * width)
            queries = buffer(rows * width)
            keys = buffer(rows * width)
            values = buffer(rows * width)
            attended = buffer(rows * width)
            let chunk = min(rows, Qwen2VisionTower.mlpRowChunk) * vision.intermediateSize
            inner = buffer(chunk)
            gated = buffer(chunk)
        }

        func deallocate() {
            for buffer in [normed, qkv, queries, keys, values, attended, inner, gated] { buffer.deallocate() }
        }
    }
}

extension VisionRotaryTable {
    /// The cos and sin rows of the patches in the order the blocks see them, `[patches, headDim]` each.
    struct Rows: Sendable {
        let cos: [Float]
        let sin: [Float]
    }
}

/// `x[i] += y[i]` for `count` floats, split over the pool.
private func add(
    _ y: UnsafeMutableBufferPointer<Float>, to x: UnsafeMutableBufferPointer<Float>, count: Int, pool: ComputePool
) {
    pool.parallelFor(count, minimumChunk: 4096) { range in
        for i in range { x[i] += y[i] }
    }
}

/// An activation in place over all of `values`, split over the pool.
private func activate(_ activation: Kernels.Activation, _ values: UnsafeMutableBufferPointer<Float>, pool: ComputePool)
{
    pool.parallelFor(values.count, minimumChunk: 4096) { range in
        Kernels.activate(
            activation, UnsafeBufferPointer(rebasing: values[range]),
            into: UnsafeMutableBufferPointer(rebasing: values[range]))
    }
}
