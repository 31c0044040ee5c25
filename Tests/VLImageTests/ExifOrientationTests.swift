import Testing

@testable import VLImage

/// Edge cases of the EXIF and XMP readers beyond the fixture files, each mirroring a rule of Pillow's
/// `TiffImagePlugin.ImageFileDirectory_v2.load` or `Image.getexif`.
@Suite struct ExifOrientationTests {
    /// One IFD entry; `field` is the raw 4-byte value field, already in the block's byte order.
    struct Entry {
        var tag: UInt16 = 0x0112
        var type: UInt16 = 3
        var count: UInt32 = 1
        var field: [UInt8]
    }

    /// A TIFF block: header, `padding` zero bytes, IFD0 with `entries` (announcing `declaredCount` of them), the
    /// next-IFD offset, then `tail`.
    static func tiff(
        bigEndian: Bool = false, _ entries: [Entry], declaredCount: Int? = nil, padding: Int = 0,
        tail: [UInt8] = []
    ) -> [UInt8] {
        func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
            let ordered = bigEndian ? value.bigEndian : value.littleEndian
            return withUnsafeBytes(of: ordered) { Array($0) }
        }
        var block = (bigEndian ? Array("MM\0*".utf8) : Array("II*\0".utf8)) + bytes(UInt32(8 + padding))
        block += [UInt8](repeating: 0, count: padding) + bytes(UInt16(declaredCount ?? entries.count))
        for entry in entries {
            block += bytes(entry.tag) + bytes(entry.type) + bytes(entry.count) + entry.field
        }
        return block + bytes(UInt32(0)) + tail
    }

    static let six = Entry(field: [6, 0, 0, 0])

    @Test(
        arguments: [
            ("little-endian SHORT", tiff([six]), 6),
            ("big-endian SHORT", tiff(bigEndian: true, [Entry(field: [0, 6, 0, 0])]), 6),
            (
                "big-endian SHORT in the wrong half of the field", tiff(bigEndian: true, [Entry(field: [0, 0, 0, 6])]),
                0
            ),
            ("LONG", tiff([Entry(type: 4, field: [8, 0, 0, 0])]), 8),
            ("SBYTE", tiff([Entry(type: 6, field: [5, 0, 0, 0])]), 5),
            ("BYTE becomes bytes in Pillow", tiff([Entry(type: 1, field: [5, 0, 0, 0])]), 0),
            ("two SHORTs become a tuple", tiff([Entry(count: 2, field: [6, 0, 6, 0])]), 0),
            ("IFD after a gap", tiff([six], padding: 7), 6),
            ("first of two entries wins", tiff([Entry(field: [3, 0, 0, 0]), six]), 3),
            ("unknown type skipped, later entry wins", tiff([Entry(type: 99, field: [3, 0, 0, 0]), six]), 6),
            ("empty value skipped, later entry wins", tiff([Entry(count: 0, field: [3, 0, 0, 0]), six]), 6),
            ("entries after the orientation missing", tiff([six], declaredCount: 40), 6),
            ("Exif prefix", Array("Exif\0\0".utf8) + tiff([six]), 6),
            ("Exif prefix twice", Array("Exif\0\0Exif\0\0".utf8) + tiff([six]), 6),
            (
                "value pointing into the block",
                tiff(
                    [Entry(tag: 0x010E, type: 2, count: 6, field: [38, 0, 0, 0]), six],
                    tail: Array("hello\0".utf8)), 6
            ),
            (
                "oversized values skipped",
                tiff([Entry(tag: 0x8769, type: 4, count: 1000, field: [8, 0, 0, 0]), six]),
                6
            ),
        ] as [(String, [UInt8], Int)])
    func orientationEntryIsFound(_ name: String, block: [UInt8], expected: Int) {
        #expect(ExifOrientation.tiffOrientation(block) == expected, "\(name)")
    }

    @Test(
        arguments: [
            ("no orientation entry", tiff([Entry(tag: 0x010F, type: 2, count: 1, field: [0, 0, 0, 0])])),
            (
                "value past the end stops the IFD",
                tiff([Entry(tag: 0x010E, type: 2, count: 9, field: [200, 0, 0, 0]), six])
            ),
            ("IFD offset past the end", Array(tiff([six]).prefix(8))),
            ("entry cut short", Array(tiff([six]).prefix(16))),
            ("Exif prefix three times", Array("Exif\0\0Exif\0\0Exif\0\0".utf8) + tiff([six])),
            ("BigTIFF header", Array("II+\0".utf8) + Array(tiff([six]).dropFirst(4))),
            ("not TIFF", Array("not a TIFF block".utf8)),
            ("too short", Array("II*\0".utf8)),
            ("empty", []),
        ] as [(String, [UInt8])])
    func missingOrUnreadableEntryGivesNil(_ name: String, block: [UInt8]) {
        #expect(ExifOrientation.tiffOrientation(block) == nil, "\(name)")
    }

    @Test(
        arguments: [
            (#"<rdf:Description tiff:Orientation="6"/>"#, 6),
            ("<tiff:Orientation>8</tiff:Orientation>", 8),
            (#"tiff:Orientation="x" then tiff:Orientation="3""#, 3),
            ("tiff:Orientation='6'", nil),
            (#"tiff:Orientation=""#, nil),
            ("tiff:Orientation", nil),
            (#"exif:Orientation="6""#, nil),
        ] as [(String, Int?)])
    func xmpOrientationFollowsPillowsPattern(_ packet: String, expected: Int?) {
        #expect(ExifOrientation.xmpOrientation(Array(packet.utf8)) == expected)
    }

    @Test(
        arguments: [
            (tiff([six]), #"tiff:Orientation="3""#, 6),
            (tiff([Entry(tag: 0x010F, type: 2, count: 1, field: [0, 0, 0, 0])]), #"tiff:Orientation="3""#, 3),
            (tiff([Entry(count: 2, field: [6, 0, 6, 0])]), #"tiff:Orientation="3""#, 1),
            (tiff([Entry(field: [9, 0, 0, 0])]), "", 1),
            (Array("garbage".utf8), "<tiff:Orientation>7</tiff:Orientation>", 7),
        ] as [([UInt8], String, Int)])
    func xmpIsConsultedOnlyWithoutAnExifEntry(exif: [UInt8], xmp: String, expected: Int) {
        #expect(ExifOrientation.resolve(exif: exif, xmp: Array(xmp.utf8)) == expected)
    }

    @Test func noMetadataMeansUpright() {
        #expect(ExifOrientation.resolve(exif: nil, xmp: nil) == 1)
    }
}
