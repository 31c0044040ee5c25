import Foundation
import Testing
import VLEngine

/// The transformers reference in `Tests/Fixtures/sampling/processors.json` (made by tools/make_sampling_fixtures.py).
enum SamplingFixtures {
    static let file = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/sampling/processors.json")

    struct Document: Decodable {
        let rows: [String: Row]
        let cases: [Case]
    }

    struct Row: Decodable {
        let logits: [Float]
        /// Prompt and generated ids, with repeats and one id past the row.
        let seen: [Int32]
    }

    struct Case: Decodable, CustomTestStringConvertible {
        let id: String
        let row: String
        /// One processor, computed by calling its class directly; otherwise the builder's list.
        let alone: Bool
        /// The resolved generation parameters, under their `generation_config.json` names.
        let parameters: SamplingParameters
        /// transformers' class names, in the order `_get_logits_processor` built them.
        let processors: [String]
        /// The processed row, -inf for removed tokens.
        let expected: [Float]
        let argmax: Int32
        let kept: Int

        var testDescription: String { id }
    }

    static let document: Document = {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode(Document.self, from: Data(contentsOf: file))
        } catch {
            fatalError(
                "fixture \(file.path) is unreadable: \(error); regenerate it with tools/make_sampling_fixtures.py")
        }
    }()

    static var cases: [Case] { document.cases }

    static func row(_ name: String) -> Row {
        guard let row = document.rows[name] else { fatalError("fixture has no row \(name)") }
        return row
    }
}
