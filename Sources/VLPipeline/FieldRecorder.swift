/// Finds the fields of a `Decodable` type by decoding it once with a decoder that records every key asked for.
///
/// Only flat types are supported: properties of type `String`, integers, `Double`/`Float`, `Bool`, or optionals of
/// these. That is what an extraction schema needs, and it keeps the engine's JSON constraint simple.
enum FieldRecorder {
    /// Why a type cannot be used for extraction.
    struct Problem: Error {
        let text: String
    }

    static func fields(of type: any Decodable.Type) -> Result<[ExtractField], Problem> {
        let recorder = Recording()
        do {
            _ = try type.init(from: RecordingDecoder(recording: recorder))
        } catch let problem as Problem {
            return .failure(problem)
        } catch {
            return .failure(Problem(text: "Extract(\(type).self): decoding it with a recorder failed: \(error)"))
        }
        if recorder.fields.isEmpty {
            return .failure(Problem(text: "Extract(\(type).self) has no stored properties to extract"))
        }
        return .success(recorder.fields)
    }

    /// The fields recorded so far (a class, because the decoder's containers are values that share it).
    final class Recording {
        var fields: [ExtractField] = []
        /// The key last asked about with `decodeNil`: the standard library's `decodeIfPresent` for a primitive type
        /// asks that first, so the next `decode` of this key is an optional property.
        var optionalKey: String?
    }

    private struct RecordingDecoder: Decoder {
        let recording: Recording
        var codingPath: [any CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] = [:]

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            KeyedDecodingContainer(KeyedRecorder<Key>(recording: recording))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            throw Problem(text: "an extraction type must be a struct with named properties, not an array")
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer {
            throw Problem(text: "an extraction type must be a struct with named properties, not a single value")
        }
    }

    private struct KeyedRecorder<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let recording: Recording
        var codingPath: [any CodingKey] = []
        var allKeys: [Key] { [] }

        func contains(_ key: Key) -> Bool { true }

        func decodeNil(forKey key: Key) throws -> Bool {
            recording.optionalKey = key.stringValue
            return false
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try record(type, key: key, optional: false)
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            _ = try record(type, key: key, optional: true)
            return nil
        }

        /// Records the field and returns a placeholder of its type, so the type's initialiser goes on to the next.
        private func record<T>(_ type: T.Type, key: Key, optional: Bool) throws -> T {
            let (fieldType, placeholder): (ExtractField.FieldType, Any) =
                switch type {
                case is String.Type: (.string, "")
                case is Int.Type: (.integer, 0)
                case is Int64.Type: (.integer, Int64(0))
                case is Int32.Type: (.integer, Int32(0))
                case is Double.Type: (.number, 0.0)
                case is Float.Type: (.number, Float(0))
                case is Bool.Type: (.boolean, false)
                default:
                    throw Problem(
                        text: "property \(key.stringValue) has type \(type); extraction fields must be String, Int, "
                            + "Double, Float or Bool, or optionals of these")
                }
            let optional = optional || recording.optionalKey == key.stringValue
            recording.optionalKey = nil
            recording.fields.append(ExtractField(key.stringValue, fieldType, optional: optional))
            return placeholder as! T
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            throw Problem(text: "property \(key.stringValue) is nested; extraction fields must be flat")
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            throw Problem(text: "property \(key.stringValue) is an array; extraction fields must be flat")
        }

        func superDecoder() throws -> any Decoder { throw Problem(text: "class inheritance is not supported") }

        func superDecoder(forKey key: Key) throws -> any Decoder {
            throw Problem(text: "property \(key.stringValue) is nested; extraction fields must be flat")
        }
    }
}
