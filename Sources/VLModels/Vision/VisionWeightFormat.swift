import VLCore

extension WeightFormat {
    /// The format of a vision tower's matrices in a run whose text decoder uses `self`: the same 16-bit format, and
    /// q8 for q8 and q4 runs. A tower multiplies thousands of patches per image, so it runs on the matrix multiply,
    /// where q8 weights multiply q8 activations in integers (about twice the fp32 rate); 4-bit vision weights would
    /// save little memory (the tower is a tenth of the model) for a much larger error, so q4 runs keep q8 there, as
    /// llama.cpp users keep the projector at Q8_0 or above.
    var visionTowerFormat: WeightFormat { isBlockQuantized ? .q8 : self }
}
