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
    let blocks: [VisionBlock]
    /// `merger`: `ln_q` per patch, 4 consecutive patches viewed as one `4 * width` row, `mlp.0` → GELU (erf) → `mlp.2`.
    let merger: VisionPatchMerger
    let rotary: VisionRotaryTable

    /// Loads the `model.visual.*` tensors (canonical names) with matrices in the tower's format for a run in
    /// `format` (`WeightFormat.visionTowerFormat`: q8 for q8 and q4 runs).
    public init(config: Qwen2VLConfig, store: WeightStore, format: WeightFormat) throws(ModelError) {
        let vision = config.vision
        let matrices = format.visionTowerFormat
        self.vision = vision
        family = config.family
        let patchShape = [
            vision.width, vision.inChannels, vision.temporalPatchSize, vision.patchSize, vision.patchSize,
        ]
        patchEmbed = try Linear(
            "model.visual.patch_embed.proj", from: store, inFeatures: vision.patchDimension,
            outFeatures: vision.width, hasBias: false, format: matrices, weightShape: patchShape)
        var blocks: [VisionBlock] = []
        for index in 0..<vision.depth {
            blocks.append(
                try Self.block(
                    "model.visual.blocks.\(index)", from: store, vision: vision, family: config.family, format: matrices
                ))
        }
        self.blocks = blocks
        let merged = vision.width * vision.mergeSize * vision.mergeSize
        merger = VisionPatchMerger(
            norm: try Self.norm("model.visual.merger.ln_q", from: store, width: vision.width, family: config.family),
            fc1: try Linear(
                "model.visual.merger.mlp.0", from: store, inFeatures: merged, outFeatures: merged, hasBias: true,
                format: matrices),
            fc2: try Linear(
                "model.visual.merger.mlp.2", from: store, inFeatures: merged, outFeatures: vision.outputSize,
                hasBias: true, format: matrices))
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

        var hidden = VisionInput.embed(images, patches: patches, with: patchEmbed, pool: pool)  // [patches, width]
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

        let workspace = VisionBlock.Workspace(
            rows: patches, width: width, intermediateSize: vision.intermediateSize)
        defer { workspace.deallocate() }
        let merged = hidden.withUnsafeMutableBufferPointer { x in
            for (index, block) in blocks.enumerated() {
                let fullAttention = family == .qwen2VL || vision.fullAttentionBlocks.contains(index)
                block.apply(
                    x, rows: patches, rope: rope, segments: fullAttention ? frameSegments : windowSegments,
                    workspace: workspace, pool: pool)
                if let inspect { inspect("blocks.\(index)", Array(x)) }
            }
            return merger.apply(UnsafeBufferPointer(x), pool: pool)  // [patches / 4, outputSize]
        }
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
        try VisionInput.validate(images, patchDimension: vision.patchDimension, mergeSize: vision.mergeSize)
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
    static func norm(
        _ name: String, from store: WeightStore, width: Int, family: Qwen2VLConfig.Family
    ) throws(ModelError) -> VisionNorm {
        switch family {
        case .qwen2VL: .layer(try LayerNorm(name, from: store, width: width, epsilon: VisionNorm.epsilon))
        case .qwen25VL: .rms(try RMSNorm(name, from: store, width: width, epsilon: VisionNorm.epsilon))
        }
    }

    /// `blocks.i`: the family's norms and MLP (`fc2(quick_gelu(fc1(x)))` in Qwen2-VL, `down(silu(gate(x)) * up(x))`
    /// in Qwen2.5-VL, all with bias) around the shared attention.
    static func block(
        _ name: String, from store: WeightStore, vision: Qwen2VLConfig.Vision, family: Qwen2VLConfig.Family,
        format: WeightFormat
    ) throws(ModelError) -> VisionBlock {
        let (width, inner) = (vision.width, vision.intermediateSize)
        func linear(_ suffix: String, _ inputs: Int, _ outputs: Int) throws(ModelError) -> Linear {
            try Linear(
                "\(name).mlp.\(suffix)", from: store, inFeatures: inputs, outFeatures: outputs, hasBias: true,
                format: format)
        }
        let mlp: VisionMLP
        switch family {
        case .qwen2VL:
            mlp = .activated(
                fc1: try linear("fc1", width, inner), activation: .quickGelu, fc2: try linear("fc2", inner, width))
        case .qwen25VL:
            mlp = .swiglu(
                gate: try linear("gate_proj", width, inner), up: try linear("up_proj", width, inner),
                down: try linear("down_proj", inner, width))
        }
        return try VisionBlock(
            name, from: store, heads: vision.heads,
            norm1: try norm(name + ".norm1", from: store, width: width, family: family),
            norm2: try norm(name + ".norm2", from: store, width: width, family: family), mlp: mlp, format: format)
    }
}
