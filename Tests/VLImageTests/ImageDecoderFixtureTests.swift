import Foundation
import Testing

@testable import VLImage

/// Every file of the decode corpus against what Pillow made of it (see tools/make_decode_fixtures.py).
@Suite struct ImageDecoderFixtureTests {
    @Test(arguments: try DecodeFixtures.entries(.ok))
    func validFileDecodesToPillowsPixels(_ entry: DecodeFixtures.Entry) throws {
        let decoded = try ImageDecoder.decode(fileAt: entry.path)
        #expect(decoded.format.rawValue == entry.format)
        #expect(decoded.image.width == entry.width)
        #expect(decoded.image.height == entry.height)
        #expect(decoded.storedWidth == entry.storedWidth)
        #expect(decoded.storedHeight == entry.storedHeight)
        #expect(decoded.orientation == entry.orientation)
        #expect(decoded.compositedTransparency == entry.composited)
        let reference = try DecodeFixtures.bytes(try #require(entry.reference))
        // Exact for JPEG too: the system libjpeg-turbo and Pillow's bundled one share the ISLOW IDCT and the
        // fancy upsampling code, so there is no ±1 slack to allow.
        #expect(mismatch(decoded.image, reference) == nil)
    }

    @Test(arguments: try DecodeFixtures.entries(.error))
    func invalidFileThrowsTheExpectedError(_ entry: DecodeFixtures.Entry) throws {
        let error = try #require(throws: ImageError.self) { try ImageDecoder.decode(fileAt: entry.path) }
        #expect(error.kind == entry.error)
        #expect(error.path == entry.path)
        #expect(error.description.contains(entry.file))
        if case .unsupportedFormat(_, let format) = error {
            #expect(format == entry.format)
            #expect(error.description.contains("convert it to PNG or JPEG"))
        }
    }

    @Test(arguments: try DecodeFixtures.entries(.okOrError))
    func damagedFileDecodesOrThrowsWithoutCrashing(_ entry: DecodeFixtures.Entry) {
        do {
            let decoded = try ImageDecoder.decode(fileAt: entry.path)
            #expect(decoded.image.pixels.count == decoded.image.width * decoded.image.height * 3)
        } catch {
            #expect(["truncated", "corrupt"].contains(error.kind), "\(error)")
            #expect(error.description.contains(entry.file))
        }
    }

    @Test(arguments: ["png/rgb8.png", "jpeg/baseline_420.jpg"])
    func bytesAndFileEntryPointsAgree(_ file: String) throws {
        let path = DecodeFixtures.folder.appendingPathComponent(file).path
        let fromFile = try ImageDecoder.decode(fileAt: path)
        let fromBytes = try ImageDecoder.decode(bytes: DecodeFixtures.bytes(file), name: path)
        #expect(fromFile == fromBytes)
    }
}

/// Nil when `image` holds exactly `reference`; otherwise a short account of the difference for the failure message.
func mismatch(_ image: RGBImage, _ reference: [UInt8]) -> String? {
    guard image.pixels.count == reference.count else {
        return "\(image.pixels.count) bytes, the reference has \(reference.count)"
    }
    let differences = zip(image.pixels, reference).map { abs(Int($0) - Int($1)) }
    guard let first = differences.firstIndex(where: { $0 != 0 }) else { return nil }
    let pixel = first / 3
    return "\(differences.count { $0 != 0 }) bytes differ, by up to \(differences.max() ?? 0); "
        + "first at x \(pixel % image.width), y \(pixel / image.width)"
}
