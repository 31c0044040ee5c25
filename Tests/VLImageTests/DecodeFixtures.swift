import Foundation
import Testing

@testable import VLImage

/// The corpus in Tests/Fixtures/decode, made by tools/make_decode_fixtures.py, and its manifest.
enum DecodeFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/decode").standardized

    /// What the manifest says should happen to a file.
    enum Expectation: String, Decodable, Sendable {
        case ok
        case error
        /// A bit flip whose effect depends on where it lands: decoding or an `ImageError` are both fine.
        case okOrError = "ok_or_error"
    }

    /// One manifest entry.
    struct Entry: Decodable, Sendable, CustomTestStringConvertible {
        let file: String
        let expect: Expectation
        let format: String?
        let width: Int?
        let height: Int?
        let storedWidth: Int?
        let storedHeight: Int?
        let orientation: Int?
        let composited: Bool?
        let reference: String?
        let error: String?

        var path: String { folder.appendingPathComponent(file).path }
        var testDescription: String { file }
    }

    /// The manifest's entries with the given expectation.
    static func entries(_ expectation: Expectation) throws -> [Entry] {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        struct Manifest: Decodable { let files: [Entry] }
        let data = try Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        return try decoder.decode(Manifest.self, from: data).files.filter { $0.expect == expectation }
    }

    /// The bytes of a fixture file.
    static func bytes(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(file)))
    }
}

extension ImageError {
    /// The manifest's name for the case.
    var kind: String {
        switch self {
        case .unreadable: "unreadable"
        case .empty: "empty"
        case .unrecognized: "unrecognized"
        case .unsupportedFormat: "unsupported_format"
        case .truncated: "truncated"
        case .corrupt: "corrupt"
        case .tooLarge: "too_large"
        }
    }
}
