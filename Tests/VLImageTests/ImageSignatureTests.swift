import Testing

@testable import VLImage

@Suite struct ImageSignatureTests {
    static func bytes(_ text: String, _ extra: [UInt8] = []) -> [UInt8] { Array(text.utf8) + extra }

    @Test(
        arguments: [
            ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0], ImageSignature.png),
            ([0x89, 0x50, 0x4E], .png),  // a cut signature: reported as a truncated PNG
            ([0xFF, 0xD8, 0xFF, 0xE0], .jpeg),
            ([0xFF, 0xD8], .jpeg),
            ([0xFF, 0xD8, 0x00], .unrecognized),
            (bytes("GIF89a"), .unsupported("GIF")),
            (bytes("RIFF\u{10}\0\0\0WEBPVP8L"), .unsupported("WebP")),
            (bytes("RIFF\u{10}\0\0\0WAVEfmt "), .unrecognized),
            (bytes("BM", [0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 40, 0, 0, 0]), .unsupported("BMP")),
            (bytes("BMW is a car maker, not an image format"), .unrecognized),
            (bytes("II*\0"), .unsupported("TIFF")),
            (bytes("MM\0*"), .unsupported("TIFF")),
            ([0, 0, 0, 24] + bytes("ftypheic"), .unsupported("HEIC")),
            ([0, 0, 0, 24] + bytes("ftypavif"), .unsupported("AVIF")),
            ([0, 0, 0, 24] + bytes("ftypmif1"), .unsupported("HEIF")),
            ([0, 0, 0, 24] + bytes("ftypisom"), .unrecognized),
            ([0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A], .unsupported("JPEG 2000")),
            ([0xFF, 0x0A, 0x00], .unsupported("JPEG XL")),
            (bytes("<html>"), .unrecognized),
            ([], .unrecognized),
        ] as [([UInt8], ImageSignature)])
    func contentDecidesTheFormat(_ bytes: [UInt8], expected: ImageSignature) {
        #expect(ImageSignature(bytes) == expected)
    }
}
