import Foundation

/// The 2-D rotary embedding of every Qwen vision tower (qwen-architecture.md §3.1 item 2, §3.3 item 3): one cos and one
/// sin vector of `headDim` per patch, from the patch's row and column in the full-resolution patch grid.
///
/// Port of transformers' `VisionRotaryEmbedding(head_dim // 2)` plus `rot_pos_emb` (modeling_qwen2_vl.py,
/// modeling_qwen2_5_vl.py) and of the "axial" `Qwen3VLVisionRotaryEmbedding` / `Qwen3_5VisionRotaryEmbedding`
/// (modeling_qwen3_vl.py, modeling_qwen3_5.py: `inv_freq` over `arange(0, head_dim // 2, 2)`, then
/// `cat([f_h, f_w])` twice; the same table): with `d = headDim / 2` and `f = headDim / 4` frequencies
/// `inv_freq[k] = 1 / theta^(2k / d)`, a patch at `(r, c)` gets the angles `concat(r * inv_freq, c * inv_freq)`
/// (length `d`) and `cos`/`sin` of `concat(angles, angles)` (length `headDim`): head dims `[0, f)` and `[d, d + f)`
/// turn with the row, `[f, d)` and `[d + f, headDim)` with the column. Angles are fp32 products, as in
/// `torch.outer(seq, inv_freq)`.
struct VisionRotaryTable: Sendable {
    /// Width of one attention head; a multiple of 4.
    let headDim: Int
    /// `[headDim / 4]`: `1 / theta^(2k / (headDim / 2))`, fp32 as torch computes it.
    let inverseFrequencies: [Float]

    /// The table for heads of `headDim` (a positive multiple of 4) with rotary base `theta`.
    init(headDim: Int, theta: Float = 10_000) {
        precondition(headDim > 0 && headDim % 4 == 0, "the vision head width must be a positive multiple of 4")
        self.headDim = headDim
        let dim = headDim / 2
        // inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim)), all in float32.
        inverseFrequencies = stride(from: 0, to: dim, by: 2).map { Float(1) / powf(theta, Float($0) / Float(dim)) }
    }

    /// `(cos, sin)`, each `[patches, headDim]` for the patches of `grids` in `pixel_values` row order: image after
    /// image, temporal group after group, 2×2 merge blocks in raster order, the patches of a block in raster order.
    func table(for grids: [PatchGrid], mergeSize: Int) -> (cos: [Float], sin: [Float]) {
        let patches = grids.reduce(0) { $0 + $1.patchCount }
        var cosines = [Float](repeating: 0, count: patches * headDim)
        var sines = [Float](repeating: 0, count: patches * headDim)
        let quarter = inverseFrequencies.count
        let half = 2 * quarter
        var angles = [Float](repeating: 0, count: half)
        var row = 0
        for grid in grids {
            for _ in 0..<grid.temporal {
                for (patchRow, patchColumn) in grid.frameCoordinates(mergeSize: mergeSize) {
                    for k in 0..<quarter {
                        angles[k] = Float(patchRow) * inverseFrequencies[k]
                        angles[quarter + k] = Float(patchColumn) * inverseFrequencies[k]
                    }
                    let base = row * headDim
                    for i in 0..<half {
                        let (c, s) = (cosf(angles[i]), sinf(angles[i]))
                        cosines[base + i] = c
                        cosines[base + half + i] = c
                        sines[base + i] = s
                        sines[base + half + i] = s
                    }
                    row += 1
                }
            }
        }
        return (cosines, sines)
    }

    /// The cos and sin rows of the patches in the order the blocks see them, `[patches, headDim]` each.
    struct Rows: Sendable {
        let cos: [Float]
        let sin: [Float]
    }
}

extension PatchGrid {
    /// The full-resolution `(row, column)` of each patch of one frame, in merge-block order (the row order of
    /// `pixel_values` within a temporal group).
    ///
    /// transformers: `hpos = arange(h)[:, None].expand(-1, w).reshape(h/m, m, w/m, m).permute(0, 2, 1, 3).flatten()`,
    /// and the same for `wpos`; so block `(bi, bj)`, in-block `(u, v)` sits at `(bi*m + u, bj*m + v)`.
    func frameCoordinates(mergeSize merge: Int) -> [(row: Int, column: Int)] {
        var result: [(row: Int, column: Int)] = []
        result.reserveCapacity(height * width)
        for blockRow in 0..<(height / merge) {
            for blockColumn in 0..<(width / merge) {
                for innerRow in 0..<merge {
                    for innerColumn in 0..<merge {
                        result.append((blockRow * merge + innerRow, blockColumn * merge + innerColumn))
                    }
                }
            }
        }
        return result
    }
}
