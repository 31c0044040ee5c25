/// An 8-bit RGB raster: the one pixel format every later stage works on.
///
/// Pixels are stored row-major and interleaved (`R, G, B, R, G, B, …`), `width * height * 3` bytes,
/// the layout of Pillow's `np.asarray(image.convert("RGB"))`.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Interleaved RGB bytes, row-major; `count == width * height * 3`.
    public var pixels: [UInt8]

    /// Wraps existing pixels; the byte count must match the size.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "an image has at least one pixel")
        precondition(pixels.count == width * height * 3, "pixel buffer does not match \(width)x\(height) RGB")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The red, green and blue bytes at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (red: UInt8, green: UInt8, blue: UInt8) {
        let offset = (y * width + x) * 3
        return (pixels[offset], pixels[offset + 1], pixels[offset + 2])
    }
}
