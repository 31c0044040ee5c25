/// Finds the orientation Pillow's `ImageOps.exif_transpose` applies: tag 0x0112 of the EXIF block, or, when that
/// block has no such tag, `tiff:Orientation` in the XMP packet (Pillow `Image.getexif`).
///
/// Metadata never makes decoding fail: a malformed block simply yields no orientation. (Pillow raises on an EXIF
/// block without a TIFF header; here the image is kept upright instead.)
enum ExifOrientation {
    /// The orientation to apply, 1…8, where 1 means none.
    static func resolve(exif: [UInt8]?, xmp: [UInt8]?) -> Int {
        let value = exif.flatMap(tiffOrientation) ?? xmp.flatMap(xmpOrientation) ?? 1
        // Pillow maps only 2…8 to a transposition; 0, 9 and any other value leave the image as it is.
        return (1...8).contains(value) ? value : 1
    }

    /// The value of tag 0x0112 in the first IFD of a TIFF structure, read the way Pillow's
    /// `TiffImagePlugin.ImageFileDirectory_v2.load` reads it; nil when Pillow would find no such entry, 0 when the
    /// entry is not one integer (Pillow then gets a tuple, bytes, a string or a float, which match no orientation;
    /// floats equal to an integer do match there, an oddity not reproduced). Signed values come back unsigned,
    /// which keeps negative ones out of 1…8.
    static func tiffOrientation(_ block: [UInt8]) -> Int? {
        // Pillow's Exif.load strips up to two "Exif\0\0" prefixes: some PNG writers put one inside eXIf.
        var start = 0
        for _ in 0..<2 where block[start...].starts(with: exifPrefix) {
            start += exifPrefix.count
        }
        guard let tiff = TIFFReader(block, start: start), let ifd = tiff.uint32(at: 4),
            let entryCount = tiff.uint16(at: ifd)
        else { return nil }
        var pointedBytes = 0
        for index in 0..<entryCount {
            let entry = ifd + 2 + 12 * index
            // A short read ends the IFD; the entries read so far stay (here: none was the orientation).
            guard let tag = tiff.uint16(at: entry), let type = tiff.uint16(at: entry + 2),
                let count = tiff.uint32(at: entry + 4), let field = tiff.uint32(at: entry + 8)
            else { return nil }
            guard let unitSize = unitSizes[type] else { continue }  // unknown types are skipped
            let size = count * unitSize
            if size > 4 {
                // The value lies at the offset in `field`. Pillow skips it once the values pointed to add up to
                // more than the whole block, and stops reading the IFD when it runs past the end.
                pointedBytes += size
                if pointedBytes > tiff.count { continue }
                guard field + size <= tiff.count else { return nil }
            } else if size == 0 {
                continue  // empty values are skipped
            }
            // The first entry stored wins: Pillow skips tags it already holds.
            guard tag == 0x0112 else { continue }
            switch (type, count) {
            case (6, 1): return tiff.uint8(at: entry + 8)  // SBYTE
            case (3, 1), (8, 1): return tiff.uint16(at: entry + 8)  // SHORT, SSHORT
            case (4, 1), (9, 1), (13, 1): return tiff.uint32(at: entry + 8)  // LONG, SLONG, IFD
            default: return 0
            }
        }
        return nil
    }

    /// The first digit matching Pillow's pattern `tiff:Orientation(="|>)([0-9])`, or nil.
    static func xmpOrientation(_ packet: [UInt8]) -> Int? {
        var searchStart = packet.startIndex
        while let found = packet[searchStart...].firstRange(of: xmpKey) {
            let rest = packet[found.upperBound...]
            let separator = ["=\"", ">"].first { rest.starts(with: $0.utf8) }
            if let separator, case let digitIndex = rest.startIndex + separator.utf8.count,
                digitIndex < packet.endIndex, (0x30...0x39).contains(packet[digitIndex])
            {
                return Int(packet[digitIndex] - 0x30)
            }
            searchStart = found.lowerBound + 1
        }
        return nil
    }

    private static let exifPrefix: [UInt8] = Array("Exif\0\0".utf8)
    private static let xmpKey: [UInt8] = Array("tiff:Orientation".utf8)
    /// Bytes per value of the field types Pillow reads (TiffImagePlugin `_load_dispatch`).
    private static let unitSizes: [Int: Int] = [
        1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8,
    ]
}

/// Bounds-checked reads from a TIFF structure that starts at `start` in `bytes`, in its declared byte order.
private struct TIFFReader {
    let bytes: [UInt8]
    let start: Int
    let bigEndian: Bool

    /// Nil unless the header is "II*\0" or "MM\0*" (BigTIFF never holds EXIF).
    /// Bytes from the header to the end of the block.
    var count: Int { bytes.count - start }

    init?(_ bytes: [UInt8], start: Int) {
        guard bytes.count - start >= 8 else { return nil }
        let header = Array(bytes[start..<start + 4])
        switch header {
        case [0x49, 0x49, 0x2A, 0x00]: bigEndian = false
        case [0x4D, 0x4D, 0x00, 0x2A]: bigEndian = true
        default: return nil
        }
        self.bytes = bytes
        self.start = start
    }

    func uint8(at offset: Int) -> Int? { read(at: offset, size: 1) }
    func uint16(at offset: Int) -> Int? { read(at: offset, size: 2) }
    func uint32(at offset: Int) -> Int? { read(at: offset, size: 4) }

    /// The unsigned integer of `size` bytes at `offset` from the TIFF header, or nil when it is out of bounds.
    private func read(at offset: Int, size: Int) -> Int? {
        guard offset >= 0, offset <= count - size else { return nil }
        let field = bytes[(start + offset)..<(start + offset + size)]
        let ordered = bigEndian ? Array(field) : field.reversed()
        return ordered.reduce(0) { value, byte in value << 8 | Int(byte) }
    }
}
