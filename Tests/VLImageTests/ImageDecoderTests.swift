import Foundation
import Testing

@testable import VLImage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Limits, file-system errors and robustness against damaged bytes.
@Suite struct ImageDecoderTests {
    @Test(arguments: ["png/rgb8.png", "jpeg/baseline_422.jpg"])
    func pixelLimitIsCheckedAgainstTheHeader(_ file: String) throws {
        let bytes = try DecodeFixtures.bytes(file)
        let decoded = try ImageDecoder.decode(bytes: bytes, name: file)
        let pixels = decoded.storedWidth * decoded.storedHeight
        #expect(throws: Never.self) {
            try ImageDecoder.decode(bytes: bytes, name: file, limits: ImageDecodingLimits(maxPixels: pixels))
        }
        let error = try #require(throws: ImageError.self) {
            try ImageDecoder.decode(bytes: bytes, name: file, limits: ImageDecodingLimits(maxPixels: pixels - 1))
        }
        #expect(
            error == .tooLarge(path: file, width: decoded.storedWidth, height: decoded.storedHeight, limit: pixels - 1))
        #expect(error.description.contains("raise the limit"))
    }

    @Test func defaultLimitIsOneHundredMillionPixels() {
        #expect(ImageDecodingLimits().maxPixels == 100_000_000)
    }

    @Test func missingFileIsUnreadable() {
        let path = DecodeFixtures.folder.appendingPathComponent("no-such-file.png").path
        #expect(throws: ImageError.unreadable(path: path, reason: "No such file or directory")) {
            try ImageDecoder.decode(fileAt: path)
        }
    }

    @Test func directoryIsUnreadable() {
        let path = DecodeFixtures.folder.path
        #expect(throws: ImageError.unreadable(path: path, reason: "it is a directory")) {
            try ImageDecoder.decode(fileAt: path)
        }
    }

    /// A FIFO would block a plain open(2) until some writer appeared.
    @Test func fifoIsRefusedWithoutWaiting() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vlimage-fifo-\(UUID())").path
        try #require(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        #expect(throws: ImageError.unreadable(path: path, reason: "not a regular file")) {
            try ImageDecoder.decode(fileAt: path)
        }
    }

    @Test(.enabled(if: getuid() != 0, "root may read any file"))
    func unreadableFileKeepsTheSystemReason() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vlimage-\(UUID()).png").path
        try #require(
            FileManager.default.createFile(atPath: path, contents: Data([1]), attributes: [.posixPermissions: 0]))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ImageError.unreadable(path: path, reason: "Permission denied")) {
            try ImageDecoder.decode(fileAt: path)
        }
    }

    /// Pillow semantics, for every possible cut: a JPEG without its end is truncated; a PNG decodes (to the
    /// complete image) exactly when the bytes that are left still hold every row.
    @Test(arguments: [
        "png/interlaced_palette4_trns.png", "png/rgb16_trns.png", "png/exif6.png",
        "png/split_idat.png", "jpeg/progressive.jpg", "jpeg/ycck.jpg", "jpeg/restart_rows.jpg",
        "orientation/exif6_big_endian.jpg",
    ])
    func everyTruncationIsReportedOrHarmless(_ file: String) throws {
        let bytes = try DecodeFixtures.bytes(file)
        let complete = try ImageDecoder.decode(bytes: bytes, name: file)
        for length in 1..<bytes.count {
            do {
                let decoded = try ImageDecoder.decode(bytes: Array(bytes.prefix(length)), name: file)
                #expect(file.hasSuffix(".png"), "a JPEG cut at \(length) decoded")
                #expect(decoded.image == complete.image, "cut at \(length)")
            } catch {
                #expect(error == .truncated(path: file), "cut at \(length)")
            }
        }
    }

    /// Thousands of scans would each cost a pass over a progressive image's coefficients: a CPU-time bomb in a
    /// small file. Made by repeating the final refinement scan of a progressive JPEG (libjpeg only warns about it).
    @Test(arguments: [1_000, 1_001])
    func progressiveScanCountIsLimited(scans: Int) throws {
        let original = try DecodeFixtures.bytes("jpeg/grey_progressive.jpg")
        let starts = original.indices.dropLast().filter { original[$0] == 0xFF && original[$0 + 1] == 0xDA }
        let lastScan = original[try #require(starts.last)..<(original.count - 2)]
        var bytes = Array(original.dropLast(2))
        for _ in starts.count..<scans { bytes += lastScan }
        bytes += [0xFF, 0xD9]
        if scans <= 1_000 {
            #expect(throws: Never.self) { try ImageDecoder.decode(bytes: bytes, name: "scans.jpg") }
        } else {
            #expect(throws: ImageError.corrupt(path: "scans.jpg", detail: "JPEG: more than 1000 scans")) {
                try ImageDecoder.decode(bytes: bytes, name: "scans.jpg")
            }
        }
    }

    /// Random damage must never crash, hang or read out of bounds (run under AddressSanitizer too); any outcome
    /// other than an image or an `ImageError` is impossible by the signature.
    @Test(arguments: [
        "png/grey2_trns.png", "png/interlaced_rgba8.png", "png/palette8_trns.png", "png/xmp5.png",
        "jpeg/baseline_420.jpg", "jpeg/grey_progressive.jpg", "jpeg/cmyk_adobe.jpg", "jpeg/restart_blocks.jpg",
        "orientation/exif5_gap_before_ifd.jpg",
    ])
    func randomDamageNeverCrashes(_ file: String) throws {
        let original = try DecodeFixtures.bytes(file)
        var random = SplitMix64(seed: UInt64(truncatingIfNeeded: file.utf8.reduce(0) { $0 &* 31 &+ Int($1) }))
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<(1 + random.next(below: 4)) {
                let position = random.next(below: bytes.count)
                switch random.next(below: 3) {
                case 0: bytes[position] ^= UInt8(1 << random.next(below: 8))
                case 1: bytes[position] = UInt8(truncatingIfNeeded: random.next(below: 256))
                default: bytes.replaceSubrange(position..<min(bytes.count, position + 4), with: [0xFF, 0xFF, 0, 0])
                }
            }
            do {
                let decoded = try ImageDecoder.decode(bytes: bytes, name: file)
                #expect(decoded.image.pixels.count == decoded.image.width * decoded.image.height * 3)
            } catch {
                #expect(error.path == file)
            }
        }
    }
}

/// A small seeded generator, so the damage is the same on every run.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((value ^ (value >> 31)) % UInt64(bound))
    }
}
