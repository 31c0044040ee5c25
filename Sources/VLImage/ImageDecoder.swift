import CVLCodecs

/// Safety limits, checked against the file header before any pixel memory is allocated.
public struct ImageDecodingLimits: Sendable, Equatable {
    /// The largest `width * height` a header may declare. The default, 100 million, admits a 10000 × 10000 image
    /// (300 MB as RGB, 400 MB while an alpha channel is composited) and rejects decompression bombs.
    public var maxPixels: Int

    /// Limits with the given pixel cap.
    public init(maxPixels: Int = 100_000_000) {
        self.maxPixels = maxPixels
    }
}

/// An image as the model will see it, and what decoding did to it.
public struct DecodedImage: Sendable, Equatable {
    /// The container formats the decoder reads.
    public enum Format: String, Sendable {
        /// Portable Network Graphics.
        case png
        /// JPEG (JFIF, EXIF, Adobe).
        case jpeg
    }

    /// The pixels, upright (EXIF orientation applied) and opaque (transparency composited onto white).
    public let image: RGBImage
    /// The format found from the file's content.
    public let format: Format
    /// Width as stored in the file, before the orientation was applied.
    public let storedWidth: Int
    /// Height as stored in the file, before the orientation was applied.
    public let storedHeight: Int
    /// The EXIF orientation that was applied, 1…8; 1 means the image was stored upright.
    public let orientation: Int
    /// Whether the file had transparency (an alpha channel or a tRNS colour) that was composited onto white.
    public let compositedTransparency: Bool
}

/// Decodes PNG and JPEG files into the `RGBImage` that Pillow produces for the Python reference pipeline.
///
/// The reference is `ImageOps.exif_transpose(Image.open(path))` followed by qwen-vl-utils' `to_rgb`, which pastes
/// an RGBA image onto white and otherwise calls `convert("RGB")`. Two deliberate differences, both where Pillow's
/// output is wrong rather than merely different:
/// - Every kind of transparency is composited onto white (grey + alpha, palette and grey/RGB tRNS colours, not only
///   RGBA), as if the image had been converted to RGBA first. `convert("RGB")` would drop it and show the colours
///   hidden under transparent pixels.
/// - 16-bit PNG samples keep their high byte. Pillow does that for colour, but clamps 16-bit greyscale to 0…255
///   (almost all white), and it ignores tRNS on 2-, 4- and 16-bit images; libpng follows the PNG specification.
///
/// The format is recognised from the content, never from the file name. Safe on any input: malformed files throw
/// an `ImageError`; nothing crashes, reads out of bounds or allocates more than the header-checked limit.
public enum ImageDecoder {
    /// Reads and decodes the file at `path`.
    public static func decode(
        fileAt path: String, limits: ImageDecodingLimits = ImageDecodingLimits()
    ) throws(ImageError) -> DecodedImage {
        try decode(bytes: FileReader.contents(ofFileAt: path), name: path, limits: limits)
    }

    /// Decodes a file already in memory; `name` (usually its path) is used in error messages.
    public static func decode(
        bytes: [UInt8], name: String, limits: ImageDecodingLimits = ImageDecodingLimits()
    ) throws(ImageError) -> DecodedImage {
        guard !bytes.isEmpty else { throw .empty(path: name) }
        switch ImageSignature(bytes) {
        case .png: return try decode(bytes, format: .png, open: vl_png_open, name: name, limits: limits)
        case .jpeg: return try decode(bytes, format: .jpeg, open: vl_jpeg_open, name: name, limits: limits)
        case .unsupported(let format): throw .unsupportedFormat(path: name, format: format)
        case .unrecognized: throw .unrecognized(path: name)
        }
    }

    private typealias OpenFunction =
        @convention(c) (
            UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<OpaquePointer?>?, UnsafeMutablePointer<vl_image_info>?,
            UnsafeMutablePointer<vl_message>?
        ) -> vl_status

    /// Header, limit check, pixels, then conversion: the two-phase C API lets the limit be checked before the
    /// pixel buffer exists.
    private static func decode(
        _ bytes: [UInt8], format: DecodedImage.Format, open: OpenFunction, name: String, limits: ImageDecodingLimits
    ) throws(ImageError) -> DecodedImage {
        try bytes.withUnsafeBufferPointer { (data) throws(ImageError) -> DecodedImage in
            var decoder: OpaquePointer?
            defer { vl_decoder_close(decoder) }
            var info = vl_image_info()
            var message = vl_message()
            let status = open(data.baseAddress, data.count, &decoder, &info, &message)
            try check(status, message, format: format, name: name)
            let width = Int(info.width)
            let height = Int(info.height)
            let (pixelCount, overflow) = width.multipliedReportingOverflow(by: height)
            guard !overflow, pixelCount <= limits.maxPixels else {
                throw .tooLarge(path: name, width: width, height: height, limit: limits.maxPixels)
            }
            // libpng and libjpeg both refuse empty images; `RGBImage` needs at least one pixel.
            guard pixelCount > 0 else { throw .corrupt(path: name, detail: "\(format.name): the image has no pixels") }
            let byteCount = pixelCount * Int(info.bytes_per_pixel)
            let raw = try [UInt8](unsafeUninitializedCapacity: byteCount) { (buffer, initialized) throws(ImageError) in
                let status = vl_decoder_read(decoder, buffer.baseAddress, byteCount, &info, &message)
                try check(status, message, format: format, name: name)
                initialized = byteCount
            }
            let orientation = ExifOrientation.resolve(
                exif: copy(info.exif, count: info.exif_size), xmp: copy(info.xmp, count: info.xmp_size))
            let layout: DecodedLayout =
                switch info.format {
                case VL_PIXELS_RGBA: .rgba
                case VL_PIXELS_CMYK: .cmyk
                default: .rgb
                }
            let image = PixelAssembly.assemble(
                raw, layout: layout, width: width, height: height, orientation: orientation)
            return DecodedImage(
                image: image, format: format, storedWidth: width, storedHeight: height, orientation: orientation,
                compositedTransparency: layout == .rgba)
        }
    }

    private static func check(
        _ status: vl_status, _ message: vl_message, format: DecodedImage.Format, name: String
    ) throws(ImageError) {
        switch status {
        case VL_STATUS_OK: return
        case VL_STATUS_TRUNCATED: throw .truncated(path: name)
        default: throw .corrupt(path: name, detail: "\(format.name): \(message.string)")
        }
    }

    /// Copies metadata out of the decoder, which owns it.
    private static func copy(_ pointer: UnsafePointer<UInt8>?, count: Int) -> [UInt8]? {
        pointer.map { Array(UnsafeBufferPointer(start: $0, count: count)) }
    }
}

extension DecodedImage.Format {
    /// The format's name in messages.
    fileprivate var name: String { rawValue.uppercased() }
}

extension vl_message {
    /// The NUL-terminated message as a Swift string.
    fileprivate var string: String {
        withUnsafeBytes(of: self) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
