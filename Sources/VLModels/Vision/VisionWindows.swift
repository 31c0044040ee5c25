/// How a vision tower groups patches for attention: which patch sequences attend among themselves, and (Qwen2.5-VL)
/// the order of the merge units (2×2 patch blocks) that makes each attention window contiguous. The towers without
/// windows (Qwen2-VL, Qwen3-VL, Qwen3.5) pass `windowSide: nil` and attend within `frameBoundaries`.
///
/// Port of transformers' `get_vision_window_index` and `get_vision_cu_seqlens` (vision_utils.py, used by
/// modeling_qwen2_5_vl.py, modeling_qwen3_vl.py and modeling_qwen3_5.py; qwen-architecture.md §3.2). Patches never
/// attend across images, nor across the temporal groups of one image.
struct VisionWindows: Sendable, Equatable {
    /// `window_index`: position `i` of the windowed order holds merge unit `mergeUnitOrder[i]` of the `pixel_values`
    /// order (a permutation of `0 ..< patches / mergeUnit`).
    let mergeUnitOrder: [Int]
    /// `cu_window_seqlens` after `unique_consecutive`: patch offsets, in the windowed order, where a window starts,
    /// from 0 to the total patch count.
    let windowBoundaries: [Int]
    /// `cu_seqlens`: patch offsets where an image's temporal group starts (`h * w` patches each), 0 to the total.
    let frameBoundaries: [Int]

    /// The layout for `grids` in order. `windowSide` is the window side in merge units (`window_size / merge_size /
    /// patch_size`, 4 for Qwen2.5-VL), or nil for Qwen2-VL, which has no windows: the order is the identity and the
    /// windows are the temporal groups.
    init(grids: [PatchGrid], mergeSize: Int, windowSide: Int?) {
        let unit = mergeSize * mergeSize
        var order: [Int] = []
        var windows = [0]
        var frames = [0]
        var firstUnit = 0
        for grid in grids {
            let (rows, columns) = (grid.height / mergeSize, grid.width / mergeSize)
            for frame in 0..<grid.temporal {
                frames.append(frames.last! + grid.height * grid.width)
                let frameUnit = firstUnit + frame * rows * columns
                guard let side = windowSide else {
                    order += frameUnit..<(frameUnit + rows * columns)
                    windows.append(frames.last!)
                    continue
                }
                // transformers pads the (rows, columns) grid with `side - rows % side` (a whole empty window when it
                // divides evenly), tiles it into side×side windows in raster order and drops the padding; empty
                // windows add a repeated boundary that `unique_consecutive` removes, so they are skipped here.
                for windowRow in stride(from: 0, to: rows, by: side) {
                    for windowColumn in stride(from: 0, to: columns, by: side) {
                        for row in windowRow..<min(windowRow + side, rows) {
                            let start = frameUnit + row * columns
                            order += (start + windowColumn)..<(start + min(windowColumn + side, columns))
                        }
                        windows.append(order.count * unit)
                    }
                }
            }
            firstUnit += grid.temporal * rows * columns
        }
        mergeUnitOrder = order
        windowBoundaries = windows
        frameBoundaries = frames
    }

    /// Whether the windowed order differs from the `pixel_values` order.
    var isPermuted: Bool { mergeUnitOrder.indices.contains { mergeUnitOrder[$0] != $0 } }

    /// The consecutive `[start, end)` patch ranges between `boundaries`.
    static func segments(_ boundaries: [Int]) -> [Range<Int>] {
        zip(boundaries, boundaries.dropFirst()).map { $0..<$1 }
    }
}
