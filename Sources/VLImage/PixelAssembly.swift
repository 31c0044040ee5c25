/// The layouts the C decoders produce (`vl_pixel_format`).
enum DecodedLayout {
    case rgb
    /// Straight alpha.
    case rgba
    /// CMYK as stored in a JPEG; Pillow reads every CMYK JPEG with the inverted Adobe convention.
    case cmyk
}

/// Turns decoder output into the final `RGBImage` in one pass over the pixels: colour conversion as Pillow does it
/// (alpha composited onto white, CMYK to RGB), and the EXIF orientation as `ImageOps.exif_transpose` applies it.
enum PixelAssembly {
    /// The RGB image of `raw`, `width` × `height` pixels in `layout`, transposed for EXIF `orientation` (1…8).
    static func assemble(_ raw: [UInt8], layout: DecodedLayout, width: Int, height: Int, orientation: Int) -> RGBImage {
        let placement = ExifTransposition(orientation: orientation, width: width, height: height)
        let pixels: [UInt8]
        switch layout {
        case .rgb where orientation == 1: pixels = raw
        case .rgb: pixels = convert(raw, RGBSource.self, width: width, height: height, placement: placement)
        case .rgba: pixels = convert(raw, AlphaOverWhite.self, width: width, height: height, placement: placement)
        case .cmyk: pixels = convert(raw, AdobeCMYK.self, width: width, height: height, placement: placement)
        }
        return RGBImage(width: placement.outputWidth, height: placement.outputHeight, pixels: pixels)
    }

    private static func convert<Source: SourcePixel>(
        _ raw: [UInt8], _: Source.Type, width: Int, height: Int, placement: ExifTransposition
    ) -> [UInt8] {
        precondition(raw.count == width * height * Source.size, "decoder output does not match its size")
        return [UInt8](unsafeUninitializedCapacity: width * height * 3) { output, initialized in
            raw.withUnsafeBufferPointer { input in
                for y in 0..<height {
                    var source = y * width * Source.size
                    var target = placement.origin + y * placement.yStep
                    for _ in 0..<width {
                        let (red, green, blue) = Source.rgb(input, source)
                        output[3 * target] = red
                        output[3 * target + 1] = green
                        output[3 * target + 2] = blue
                        source += Source.size
                        target += placement.xStep
                    }
                }
            }
            initialized = width * height * 3
        }
    }
}

/// Where `ImageOps.exif_transpose` moves each stored pixel: output index = origin + x * xStep + y * yStep for the
/// stored pixel at column x, row y. Pillow's methods per orientation, ImageOps.py: 2 FLIP_LEFT_RIGHT,
/// 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90 (angles counterclockwise).
struct ExifTransposition {
    let outputWidth: Int
    let outputHeight: Int
    let origin: Int
    let xStep: Int
    let yStep: Int

    init(orientation: Int, width: Int, height: Int) {
        let pixels = width * height
        // Orientations 5…8 swap the axes; the output is then `height` pixels wide.
        (outputWidth, outputHeight) = orientation >= 5 ? (height, width) : (width, height)
        switch orientation {
        case 2: (origin, xStep, yStep) = (width - 1, -1, width)  // out(x, y) = in(W-1-x, y)
        case 3: (origin, xStep, yStep) = (pixels - 1, -1, -width)  // out(x, y) = in(W-1-x, H-1-y)
        case 4: (origin, xStep, yStep) = (pixels - width, 1, -width)  // out(x, y) = in(x, H-1-y)
        case 5: (origin, xStep, yStep) = (0, height, 1)  // out(x, y) = in(y, x)
        case 6: (origin, xStep, yStep) = (height - 1, height, -1)  // out(x, y) = in(y, H-1-x)
        case 7: (origin, xStep, yStep) = (pixels - 1, -height, -1)  // out(x, y) = in(W-1-y, H-1-x)
        case 8: (origin, xStep, yStep) = (pixels - height, -height, 1)  // out(x, y) = in(W-1-y, x)
        default: (origin, xStep, yStep) = (0, 1, width)
        }
    }
}

/// One decoded pixel layout and its conversion to RGB.
private protocol SourcePixel {
    /// Bytes per pixel.
    static var size: Int { get }
    /// The RGB value of the pixel starting at `offset`.
    static func rgb(_ pixels: UnsafeBufferPointer<UInt8>, _ offset: Int) -> (UInt8, UInt8, UInt8)
}

private enum RGBSource: SourcePixel {
    static let size = 3
    static func rgb(_ pixels: UnsafeBufferPointer<UInt8>, _ offset: Int) -> (UInt8, UInt8, UInt8) {
        (pixels[offset], pixels[offset + 1], pixels[offset + 2])
    }
}

/// `white = Image.new("RGB", size, (255, 255, 255)); white.paste(rgba, mask=rgba.split()[3])`, as qwen-vl-utils'
/// `to_rgb` composites RGBA images. Pillow's paste_mask (Paste.c) computes per channel
/// `BLEND(a, 255, v) = DIV255(255 * (255 - a) + v * a)`.
private enum AlphaOverWhite: SourcePixel {
    static let size = 4
    static func rgb(_ pixels: UnsafeBufferPointer<UInt8>, _ offset: Int) -> (UInt8, UInt8, UInt8) {
        let alpha = Int(pixels[offset + 3])
        let background = 255 * (255 - alpha)
        return (
            div255(background + Int(pixels[offset]) * alpha),
            div255(background + Int(pixels[offset + 1]) * alpha),
            div255(background + Int(pixels[offset + 2]) * alpha)
        )
    }
}

/// Pillow reads CMYK JPEGs with rawmode "CMYK;I" (JpegImagePlugin: "assume adobe conventions"), inverting every
/// stored byte, then `convert("RGB")` runs Convert.c `cmyk2rgb`: `nk = 255 - k; out = CLIP8(nk - MULDIV255(c, nk))`.
/// With stored bytes s, k = 255 - sK and c = 255 - sC, so nk = sK and the result never needs clipping.
private enum AdobeCMYK: SourcePixel {
    static let size = 4
    static func rgb(_ pixels: UnsafeBufferPointer<UInt8>, _ offset: Int) -> (UInt8, UInt8, UInt8) {
        let notBlack = Int(pixels[offset + 3])
        func channel(_ stored: UInt8) -> UInt8 {
            UInt8(notBlack - Int(div255((255 - Int(stored)) * notBlack)))
        }
        return (channel(pixels[offset]), channel(pixels[offset + 1]), channel(pixels[offset + 2]))
    }
}

/// Pillow's DIV255 (ImPlatform.h / ImagingUtils.h): `x / 255` rounded, computed as `(t + (t >> 8)) >> 8` with
/// `t = x + 128`; exact for x in 0…255·255. MULDIV255(a, b) is DIV255(a * b).
@inline(__always)
private func div255(_ value: Int) -> UInt8 {
    let rounded = value + 128
    return UInt8(truncatingIfNeeded: ((rounded >> 8) + rounded) >> 8)
}
