/// Checks a vision tower's input before any work.
enum VisionInput {
    /// Rejects images a tower cannot encode: rows of another width than `patchDimension` (another patch size), a grid
    /// that does not fill whole `mergeSize` × `mergeSize` blocks, or `values` that do not match the grid.
    static func validate(_ images: [ImagePatches], patchDimension: Int, mergeSize merge: Int) throws(ModelError) {
        for (index, image) in images.enumerated() {
            let grid = image.grid
            guard image.patchDimension == patchDimension else {
                throw .invalidInput(
                    reason: "image \(index): pixel rows are \(image.patchDimension) wide, the vision tower reads "
                        + "\(patchDimension); was it preprocessed for another model?")
            }
            guard grid.temporal > 0, grid.height > 0, grid.width > 0, grid.height % merge == 0, grid.width % merge == 0
            else {
                throw .invalidInput(
                    reason: "image \(index): patch grid \(grid.temporal)x\(grid.height)x\(grid.width) is empty or "
                        + "not a multiple of \(merge) in height and width")
            }
            guard image.values.count == grid.patchCount * patchDimension else {
                throw .invalidInput(
                    reason: "image \(index): \(image.values.count) pixel values for \(grid.patchCount) patches of "
                        + "\(patchDimension)")
            }
        }
    }
}
