/// The learned absolute position embedding of the Qwen3-VL / Qwen3.5 vision towers: a `side × side` table of
/// `width`-wide rows, bilinearly resampled (align-corners) to each image's patch grid (qwen-architecture.md §3.3
/// item 2).
///
/// Port of transformers 5.23's `get_vision_interpolation_indices_and_weights(mode="bilinear", align_corners=True)`
/// (vision_utils.py) and the weighted sum in `Qwen3VLVisionModel.forward` / `Qwen3_5VisionModel.forward`:
/// `(pos_embed(indices) * weights[:, :, None]).sum(1)`, everything in fp32, in the same order of operations, so the
/// result equals transformers' to the last bit (only the fp32 table and weights are involved).
struct VisionPositionEmbedding: Sendable {
    /// Side of the square table.
    let side: Int
    /// Width of a row.
    let width: Int
    /// `[side * side, width]`, row `y * side + x`.
    let table: [Float]

    /// A table of `side × side` rows of `width` floats.
    init(table: [Float], side: Int, width: Int) {
        precondition(side > 0 && width > 0 && table.count == side * side * width, "the table is not [side², width]")
        self.table = table
        self.side = side
        self.width = width
    }

    /// Loads `name.weight`, `[side * side, width]`.
    init(_ name: String, from store: WeightStore, side: Int, width: Int) throws(ModelError) {
        self.init(
            table: try store.floats(name + ".weight", shape: [side * side, width]), side: side, width: width)
    }

    /// The two table rows (or columns) that position `index` of an axis of `size` patches reads, and their weights.
    ///
    /// transformers (`_interpolation_axis_taps_weights`), all fp32:
    /// `src = index * (side - 1) / clamp(size - 1, min=1)`; `taps = clamp(floor(src) + [0, 1], 0, side - 1)`;
    /// `weights = clamp(1 - |src - floor(src) - [0, 1]|, min=0)`.
    func axisTaps(_ index: Int, size: Int) -> (taps: (Int, Int), weights: (Float, Float)) {
        let source = Float(index) * Float(side - 1) / Float(max(size - 1, 1))
        let floor = source.rounded(.down)
        let fraction = source - floor
        let first = min(max(Int(floor), 0), side - 1)
        let second = min(max(Int(floor) + 1, 0), side - 1)
        let weights = (max(1 - abs(fraction - 0), 0), max(1 - abs(fraction - 1), 0))
        return ((first, second), weights)
    }

    /// `[patches, width]`: the embedding of every patch of `grids`, in `pixel_values` row order (image after image,
    /// temporal group after group, merge blocks in raster order, the patches of a block in raster order).
    func embeddings(for grids: [PatchGrid], mergeSize: Int) -> [Float] {
        var result: [Float] = []
        result.reserveCapacity(grids.reduce(0) { $0 + $1.patchCount } * width)
        for grid in grids {
            let frame = frameEmbeddings(grid, mergeSize: mergeSize)
            for _ in 0..<grid.temporal { result += frame }
        }
        return result
    }

    /// `[height * width patches, width]` for one temporal group of `grid`, in merge-block order.
    private func frameEmbeddings(_ grid: PatchGrid, mergeSize: Int) -> [Float] {
        let rows = (0..<grid.height).map { axisTaps($0, size: grid.height) }
        let columns = (0..<grid.width).map { axisTaps($0, size: grid.width) }
        let coordinates = grid.frameCoordinates(mergeSize: mergeSize)
        var result = [Float](repeating: 0, count: coordinates.count * width)
        table.withUnsafeBufferPointer { table in
            result.withUnsafeMutableBufferPointer { result in
                for (patch, (row, column)) in coordinates.enumerated() {
                    let (y, wy) = rows[row]
                    let (x, wx) = columns[column]
                    // indices = h_taps * side + w_taps and weights = h_weights * w_weights as outer products, taps
                    // ordered (y0, x0), (y0, x1), (y1, x0), (y1, x1); then summed in that order from 0.
                    let taps = [
                        (y.0 * side + x.0, wy.0 * wx.0), (y.0 * side + x.1, wy.0 * wx.1),
                        (y.1 * side + x.0, wy.1 * wx.0), (y.1 * side + x.1, wy.1 * wx.1),
                    ]
                    let target = patch * width
                    for (index, weight) in taps {
                        let source = index * width
                        for channel in 0..<width { result[target + channel] += table[source + channel] * weight }
                    }
                }
            }
        }
        return result
    }
}
