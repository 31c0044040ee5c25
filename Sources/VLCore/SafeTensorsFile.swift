#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One memory-mapped `.safetensors` file whose header has been fully validated, giving zero-copy tensor views.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}`, then the data
/// section, which the offsets index from its start.
public struct SafeTensorsFile: Sendable {
    /// Header lengths above this are refused, as `MAX_HEADER_SIZE` in safetensors' `tensor.rs` is.
    public static let maximumHeaderLength = 100_000_000

    /// The string-to-string map under the header's `__metadata__` key (empty when absent).
    public let metadata: [String: String]
    /// The tensor names, sorted.
    public let names: [String]
    private let file: MappedFile
    private let entries: [String: Entry]

    /// Where one tensor sits; `range` is in whole-file coordinates.
    private struct Entry {
        let dtype: SafeTensorsDType
        let shape: [Int]
        let range: Range<Int>
    }

    /// The path the file was opened with.
    public var path: String { file.path }

    /// Maps and validates the file at `path`.
    public init(path: String) throws(CoreError) {
        file = try MappedFile(path: path)
        let bytes = file.bytes
        guard bytes.count >= 8 else { throw .tooShort(path: path, size: bytes.count) }
        let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        // `{}` is the shortest header; the other two bounds keep the arithmetic below inside the file.
        guard length >= 2, length <= UInt64(Self.maximumHeaderLength), length <= UInt64(bytes.count - 8) else {
            throw .invalidHeaderLength(path: path, length: length, fileSize: bytes.count)
        }
        let dataStart = 8 + Int(length)
        let header = try decodeJSON(RawHeader.self, from: UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]), path)
        let located = try Self.locate(header.tensors, dataSize: bytes.count - dataStart, path: path)
        metadata = header.metadata
        names = located.keys.sorted()
        entries = located.mapValues { Entry(dtype: $0.dtype, shape: $0.shape, range: $0.range.shifted(by: dataStart)) }
    }

    /// A zero-copy view of the tensor called `name`.
    public func tensor(named name: String) throws(CoreError) -> TensorView {
        guard let entry = entries[name] else { throw .tensorNotFound(path: path, tensor: name) }
        return TensorView(name: name, dtype: entry.dtype, shape: entry.shape, file: file, range: entry.range)
    }

    /// Checks every entry and returns each tensor's byte range within the data section.
    ///
    /// Follows `Metadata::validate` and `SafeTensors::read_metadata` in huggingface/safetensors
    /// `safetensors/src/tensor.rs`: sorted by offsets, the tensors must tile the data section exactly, each beginning
    /// where the previous one ends (no overlap, no hole), each spanning shape × dtype size bytes, and the last one
    /// ending at the end of the file.
    private static func locate(
        _ tensors: [(name: String, entry: RawEntry)], dataSize: Int, path: String
    ) throws(CoreError) -> [String: Entry] {
        var checked: [(name: String, entry: Entry)] = []
        // By name, so that a header with several faults always reports the same one (key order is not kept).
        for (name, raw) in tensors.sorted(by: { $0.name < $1.name }) {
            guard let dtype = SafeTensorsDType(rawValue: raw.dtype) else {
                throw .unknownDType(path: path, tensor: name, dtype: raw.dtype)
            }
            let shape = raw.shape.map(\.value)
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidEntry(path: path, key: name, reason: "shape \(shape) has a negative dimension")
            }
            let offsets = raw.dataOffsets.map(\.value)
            guard offsets.count == 2, offsets[0] >= 0, offsets[1] >= 0 else {
                throw .invalidEntry(path: path, key: name, reason: "data_offsets \(offsets) is not [begin, end]")
            }
            guard offsets[0] <= offsets[1] else {
                throw .invalidOffsets(
                    path: path, tensor: name, begin: offsets[0], end: offsets[1], reason: "end before they begin")
            }
            checked.append((name, Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])))
        }
        // Sorted by offsets as safetensors does; names break ties so that the error reported is always the same one.
        let order = { (tensor: (name: String, entry: Entry)) in
            (tensor.entry.range.lowerBound, tensor.entry.range.upperBound, tensor.name)
        }
        checked.sort { order($0) < order($1) }

        var end = 0
        var previous: String?
        for (name, entry) in checked {
            let range = entry.range
            if range.lowerBound != end {
                let overlap = range.lowerBound < end
                let boundary = previous.map { "tensor \"\($0)\" ends at \(end)" } ?? "the data section starts at 0"
                throw .invalidOffsets(
                    path: path, tensor: name, begin: range.lowerBound, end: range.upperBound,
                    reason: (overlap ? "overlap the previous tensor: " : "leave a hole: ") + boundary)
            }
            guard let byteCount = entry.shape.byteCount(elementSize: entry.dtype.size) else {
                throw .shapeOverflow(path: path, tensor: name, shape: entry.shape)
            }
            guard byteCount == range.count else {
                throw .sizeMismatch(path: path, tensor: name, expected: byteCount, actual: range.count)
            }
            end = range.upperBound
            previous = name
        }
        guard end == dataSize else { throw .dataSizeMismatch(path: path, expected: end, actual: dataSize) }
        return Dictionary(uniqueKeysWithValues: checked)
    }
}

// MARK: - Header JSON

/// The header as decoded: `__metadata__` apart, every other key a tensor.
private struct RawHeader: Decodable {
    var tensors: [(name: String, entry: RawEntry)] = []
    var metadata: [String: String] = [:]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: JSONKey.self)
        for key in container.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = try container.decode([String: String].self, forKey: key)
            } else {
                tensors.append((key.stringValue, try container.decode(RawEntry.self, forKey: key)))
            }
        }
    }
}

/// One tensor's header entry before validation.
private struct RawEntry: Decodable {
    let dtype: String
    let shape: [JSONInteger]
    let dataOffsets: [JSONInteger]

    enum CodingKeys: String, CodingKey {
        case dtype, shape
        case dataOffsets = "data_offsets"
    }
}

/// A JSON number that must be an integer fitting `Int`.
struct JSONInteger: Decodable {
    let value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Decoding a non-integer straight as Int reports "not valid JSON" with no key path; decoding it as Double
        // first lets a non-number fail as a type mismatch, and a fraction or overflow fail at its key.
        let number = try container.decode(Double.self)
        guard let value = try? container.decode(Int.self) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(number) is not an integer")
        }
        self.value = value
    }
}

/// Any object key, for objects whose keys are data (tensor names).
struct JSONKey: CodingKey {
    let stringValue: String
    let intValue: Int? = nil

    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Decodes `T` from JSON bytes, turning decoding errors into `CoreError`s that name the file and the entry at fault.
func decodeJSON<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer, _ path: String) throws(CoreError)
    -> T
{
    let context: DecodingError.Context
    do {
        return try JSONDecoder().decode(type, from: Data(bytes))
    } catch DecodingError.keyNotFound(let key, let keyContext) {
        context = DecodingError.Context(
            codingPath: keyContext.codingPath + [key], debugDescription: "key is missing")
    } catch DecodingError.typeMismatch(_, let mismatch), DecodingError.valueNotFound(_, let mismatch) {
        context = mismatch
    } catch DecodingError.dataCorrupted(let corrupted) {
        context = corrupted
    } catch {
        throw .malformedJSON(path: path, reason: "cannot decode the JSON (\(error))")
    }
    guard let entry = context.codingPath.first else {
        throw .malformedJSON(path: path, reason: "not a valid JSON object (\(context.debugDescription))")
    }
    // The path inside the entry, such as `shape[1]`; empty when the entry itself is at fault.
    let location = context.codingPath.dropFirst().enumerated().map { position, key in
        key.intValue.map { "[\($0)]" } ?? (position == 0 ? key.stringValue : "." + key.stringValue)
    }
    let reason = location.isEmpty ? context.debugDescription : "\(location.joined()): \(context.debugDescription)"
    throw .invalidEntry(path: path, key: entry.stringValue, reason: reason)
}

extension [Int] {
    /// The byte size of a tensor of this shape, or nil when it overflows `Int`.
    fileprivate func byteCount(elementSize: Int) -> Int? {
        var total = elementSize
        for dimension in self {
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            total = product
        }
        return total
    }
}

extension Range<Int> {
    /// The range moved `offset` positions up.
    fileprivate func shifted(by offset: Int) -> Range<Int> {
        (lowerBound + offset)..<(upperBound + offset)
    }
}
