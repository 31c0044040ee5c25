import VLCore

/// A vision tower's input: the checks before any work, and the patch embedding.
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

    /// `patch_embed`: the `pixel_values` rows of all `images` (`patches` in all) through the patch embedding, the
    /// Conv3d with stride = kernel as a Linear; `[patches, width]`.
    static func embed(_ images: [ImagePatches], patches: Int, with patchEmbed: Linear, pool: ComputePool) -> [Float] {
        var pixels: [Float] = []
        pixels.reserveCapacity(patches * patchEmbed.inFeatures)
        for image in images { pixels += image.values }
        return patchEmbed.apply(pixels, rows: patches, pool: pool)
    }
}
