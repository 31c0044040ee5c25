import Foundation
import Testing

/// The transformers reference fixtures in `Tests/Fixtures/preprocess` (made by tools/make_preprocess_fixtures.py).
enum PreprocessingFixtures {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/preprocess")

    struct Cases: Decodable {
        let configs: [String: Config]
        let cases: [Case]
    }

    struct Config: Decodable {
        let path: String
        let normalizeLut: [[Float]]
    }

    struct Case: Decodable, CustomTestStringConvertible {
        let id: String
        let image: String
        let config: String
        let minPixels: Int
        let maxPixels: Int
        let originalWidth: Int
        let originalHeight: Int
        let expect: String
        let resizedWidth: Int?
        let resizedHeight: Int?
        let resizedImage: String?
        let imageGridThw: [Int]?
        let numImageTokens: Int?
        let pixelValuesShape: [Int]?
        let stats: Statistics?
        let sampleRows: [SampleRow]?

        var testDescription: String { id }
    }

    struct Statistics: Decodable {
        let mean: Double
        let std: Double
        let min: Float
        let max: Float
    }

    struct SampleRow: Decodable {
        let index: Int
        /// The uint8 patch behind this row, `(c * p + y) * p + x`, base64.
        let u8B64: String
        /// The processor's float32 row written literally, on a few cases.
        let values: [Float]?
    }

    struct SmartResizeTable: Decodable {
        let entries: [SmartResizeEntry]
    }

    struct SmartResizeEntry: Decodable, CustomTestStringConvertible {
        let group: String
        let height: Int
        let width: Int
        let factor: Int
        let minPixels: Int
        let maxPixels: Int
        let hBar: Int?
        let wBar: Int?
        let error: String?

        var testDescription: String { "\(group) \(height)x\(width) f\(factor) [\(minPixels), \(maxPixels)]" }
    }

    static func load<T: Decodable>(_ name: String, as type: T.Type) -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: Data(contentsOf: folder.appendingPathComponent(name)))
        } catch {
            fatalError("fixture \(name) is unreadable: \(error); regenerate it with tools/make_preprocess_fixtures.py")
        }
    }

    static let all = load("cases.json", as: Cases.self)
    static let smartResize = load("smart_resize.json", as: SmartResizeTable.self).entries
}
