import VLCore

/// What the Qwen3-VL / Qwen3.5 vision tower hands the text model for a batch of images.
public struct VisualFeatures: Sendable {
    /// `[Σ patches / 4, outputSize]`: the final merger's output, one row per image token, images in order.
    public var merged: [Float]
    /// One `[Σ patches / 4, outputSize]` tensor per DeepStack tap, in block order (empty for Qwen3.5); Qwen3-VL adds
    /// tap `i` to the image tokens' hidden states after text layer `i`.
    public var deepstack: [[Float]]

    /// Features from the merged rows and the DeepStack taps.
    public init(merged: [Float], deepstack: [[Float]]) {
        self.merged = merged
        self.deepstack = deepstack
    }
}

/// The Qwen3-VL / Qwen3.5 vision tower: `pixel_values` of one or more images in, merged visual features (one row per
/// 2×2 patch block, of the text model's width) and the DeepStack features out.
///
/// Port of transformers' `Qwen3VLVisionModel` (modeling_qwen3_vl.py) and `Qwen3_5VisionModel` (modeling_qwen3_5.py,
/// the same without DeepStack); qwen-architecture.md §3.3, §3.4. Patch embedding with bias, plus the learned
/// position table resampled to the grid; then LayerNorm blocks with a tanh-GELU MLP and 2-D rotary attention within
/// each image's temporal group; after block `deepstackIndexes[j]`, `deepstack_merger_list.j` (norm after the 2×2
/// shuffle); at the end `merger` (norm before it). All compute is fp32 on weights read from bf16 or f16, so an fp32
/// transformers run is the reference.
public struct Qwen3VisionTower: Sendable {
    /// The tower's configuration.
    public let config: Qwen3VisionConfig
    /// `patch_embed.proj`: the Conv3d with stride = kernel, as a Linear over `patchDimension` columns, with bias.
    let patchEmbed: Linear
    /// `pos_embed`.
    let positionEmbedding: VisionPositionEmbedding
    let blocks: [VisionBlock]
    /// `merger`: LayerNorm per patch, 4 patches viewed as one row, `linear_fc1` → GELU (erf) → `linear_fc2`.
    let merger: VisionPatchMerger
    /// `deepstack_merger_list.j`, for block `config.deepstackIndexes[j]`: 4 patches viewed as one row, LayerNorm over
    /// `4 * width`, `linear_fc1` → GELU (erf) → `linear_fc2`.
    let deepstackMergers: [VisionPatchMerger]
    let rotary: VisionRotaryTable

    /// Loads the `model.visual.*` tensors (canonical names) with matrices in the tower's format for a run in
    /// `format` (`WeightFormat.visionTowerFormat`: q8 for q8 and q4 runs).
    public init(config: Qwen3VisionConfig, store: WeightStore, format: WeightFormat) throws(ModelError) {
        let matrices = format.visionTowerFormat
        let (width, inner) = (config.width, config.intermediateSize)
        let merged = width * config.mergeSize * config.mergeSize
        self.config = config
        let prefix = "model.visual"
        patchEmbed = try Linear(
            "\(prefix).patch_embed.proj", from: store, inFeatures: config.patchDimension, outFeatures: width,
            hasBias: true, format: matrices,
            weightShape: [width, config.inChannels, config.temporalPatchSize, config.patchSize, config.patchSize])
        positionEmbedding = try VisionPositionEmbedding(
            "\(prefix).pos_embed", from: store, side: config.positionSide, width: width)
        func linear(_ name: String, _ inputs: Int, _ outputs: Int) throws(ModelError) -> Linear {
            try Linear(name, from: store, inFeatures: inputs, outFeatures: outputs, hasBias: true, format: matrices)
        }
        func layerNorm(_ name: String, _ width: Int) throws(ModelError) -> VisionNorm {
            .layer(try LayerNorm(name, from: store, width: width, epsilon: VisionNorm.epsilon))
        }
        func patchMerger(_ name: String, normWidth: Int) throws(ModelError) -> VisionPatchMerger {
            VisionPatchMerger(
                norm: try layerNorm(name + ".norm", normWidth), fc1: try linear(name + ".linear_fc1", merged, merged),
                fc2: try linear(name + ".linear_fc2", merged, config.outputSize))
        }
        var blocks: [VisionBlock] = []
        for index in 0..<config.depth {
            let name = "\(prefix).blocks.\(index)"
            let mlp = VisionMLP.activated(
                fc1: try linear(name + ".mlp.linear_fc1", width, inner), activation: config.activation,
                fc2: try linear(name + ".mlp.linear_fc2", inner, width))
            blocks.append(
                try VisionBlock(
                    name, from: store, heads: config.heads, norm1: try layerNorm(name + ".norm1", width),
                    norm2: try layerNorm(name + ".norm2", width), mlp: mlp, format: matrices))
        }
        self.blocks = blocks
        merger = try patchMerger("\(prefix).merger", normWidth: width)
        var deepstackMergers: [VisionPatchMerger] = []
        for index in config.deepstackIndexes.indices {
            deepstackMergers.append(try patchMerger("\(prefix).deepstack_merger_list.\(index)", normWidth: merged))
        }
        self.deepstackMergers = deepstackMergers
        rotary = VisionRotaryTable(headDim: config.headDim, theta: config.ropeTheta)
    }

    /// The merged and DeepStack features of `images`, in order, each image attending only to itself.
    public func encode(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> VisualFeatures {
        try encode(images, pool: pool, inspect: nil)
    }

    /// `encode`, handing each intermediate to `inspect` under its module name: `patch_embed` (`[patches, width]`,
    /// `pixel_values` order, before the position embedding), `pos_embed` (`[patches, width]`, the resampled table
    /// that is added to it), `blocks.0` … (`[patches, width]`), `deepstack.0` … (`[patches / 4, outputSize]`, in
    /// block order) and `merger` (`[patches / 4, outputSize]`).
    func encode(
        _ images: [ImagePatches], pool: ComputePool, inspect: ((_ name: String, _ values: [Float]) -> Void)?
    ) throws(ModelError) -> VisualFeatures {
        try VisionInput.validate(images, patchDimension: config.patchDimension, mergeSize: config.mergeSize)
        let grids = images.map(\.grid)
        let patches = grids.reduce(0) { $0 + $1.patchCount }
        guard patches > 0 else { return VisualFeatures(merged: [], deepstack: deepstackMergers.map { _ in [] }) }

        var hidden = VisionInput.embed(images, patches: patches, with: patchEmbed, pool: pool)  // [patches, width]
        inspect?("patch_embed", hidden)
        let positions = positionEmbedding.embeddings(for: grids, mergeSize: config.mergeSize)  // [patches, width]
        inspect?("pos_embed", positions)
        for index in hidden.indices { hidden[index] += positions[index] }

        let (cosines, sines) = rotary.table(for: grids, mergeSize: config.mergeSize)  // [patches, headDim] each
        let rope = VisionRotaryTable.Rows(cos: cosines, sin: sines)
        // cu_seqlens: every temporal group of every image is one attention sequence.
        let windows = VisionWindows(grids: grids, mergeSize: config.mergeSize, windowSide: nil)
        let segments = VisionWindows.segments(windows.frameBoundaries)

        let workspace = VisionBlock.Workspace(
            rows: patches, width: config.width, intermediateSize: config.intermediateSize)
        defer { workspace.deallocate() }
        var deepstack: [[Float]] = []
        let merged = hidden.withUnsafeMutableBufferPointer { x in
            for (index, block) in blocks.enumerated() {
                block.apply(x, rows: patches, rope: rope, segments: segments, workspace: workspace, pool: pool)
                if let inspect { inspect("blocks.\(index)", Array(x)) }
                // deepstack_merger_list[deepstack_visual_indexes.index(layer_num)](hidden_states)
                if let tap = config.deepstackIndexes.firstIndex(of: index) {
                    let features = deepstackMergers[tap].apply(UnsafeBufferPointer(x), pool: pool)
                    inspect?("deepstack.\(deepstack.count)", features)
                    deepstack.append(features)
                }
            }
            return merger.apply(UnsafeBufferPointer(x), pool: pool)  // [patches / 4, outputSize]
        }
        inspect?("merger", merged)
        return VisualFeatures(merged: merged, deepstack: deepstack)
    }
}
