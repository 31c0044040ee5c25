/// What a file's first bytes say it is. The extension is never consulted: a PNG named `.jpg` is a PNG.
enum ImageSignature: Equatable {
    case png
    case jpeg
    /// A recognised format the decoder does not read, by its usual name.
    case unsupported(String)
    case unrecognized

    private static let pngMagic: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    private static let jpegMagic: [UInt8] = [0xFF, 0xD8, 0xFF]

    /// Magic numbers of formats people commonly mix into image folders, checked at offset 0.
    private static let unsupportedMagic: [(format: String, magic: [UInt8])] = [
        ("GIF", Array("GIF87a".utf8)),
        ("GIF", Array("GIF89a".utf8)),
        ("TIFF", [0x49, 0x49, 0x2A, 0x00]),
        ("TIFF", [0x4D, 0x4D, 0x00, 0x2A]),
        ("TIFF", [0x49, 0x49, 0x2B, 0x00]),  // BigTIFF
        ("TIFF", [0x4D, 0x4D, 0x00, 0x2B]),
        ("JPEG 2000", [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A]),
        ("JPEG 2000", [0xFF, 0x4F, 0xFF, 0x51]),  // bare codestream
        ("JPEG XL", [0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20, 0x0D, 0x0A, 0x87, 0x0A]),
        ("JPEG XL", [0xFF, 0x0A]),  // bare codestream
    ]

    /// ISO base media ("ftyp" box) brands of HEIF images; other brands are videos and stay unrecognized.
    private static let isoBrands: [String: String] = [
        "avif": "AVIF", "avis": "AVIF",
        "heic": "HEIC", "heix": "HEIC", "heim": "HEIC", "heis": "HEIC", "hevc": "HEIC", "hevx": "HEIC",
        "mif1": "HEIF", "msf1": "HEIF",
    ]

    /// BMP info-header sizes (BITMAPCOREHEADER … BITMAPV5HEADER): two bytes "BM" alone are too weak a signal.
    private static let bmpHeaderSizes: Set<UInt32> = [12, 40, 52, 56, 64, 108, 124]

    /// Identifies `bytes`. A file shorter than the PNG or JPEG signature but equal to its start counts as that
    /// format, so the decoder reports it as truncated rather than as something unknown.
    init(_ bytes: [UInt8]) {
        if Self.matches(bytes, Self.pngMagic) {
            self = .png
        } else if Self.matches(bytes, Self.jpegMagic) {
            self = .jpeg
        } else if let known = Self.unsupportedMagic.first(where: { bytes.starts(with: $0.magic) }) {
            self = .unsupported(known.format)
        } else if bytes.count >= 12, bytes[4..<8].elementsEqual("ftyp".utf8),
            let format = Self.isoBrands[String(decoding: bytes[8..<12], as: UTF8.self)]
        {
            self = .unsupported(format)
        } else if bytes.count >= 18, bytes.starts(with: "BM".utf8), Self.bmpHeaderSizes.contains(Self.le32(bytes, 14)) {
            self = .unsupported("BMP")
        } else if bytes.count >= 12, bytes.starts(with: "RIFF".utf8), bytes[8..<12].elementsEqual("WEBP".utf8) {
            self = .unsupported("WebP")
        } else {
            self = .unrecognized
        }
    }

    private static func matches(_ bytes: [UInt8], _ magic: [UInt8]) -> Bool {
        !bytes.isEmpty && (bytes.count >= magic.count ? bytes.starts(with: magic) : magic.starts(with: bytes))
    }

    private static func le32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { value, index in value | UInt32(bytes[offset + index]) << (8 * index) }
    }
}
