import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One finished item as written: the record's members and whether it is an error record.
public struct OutputRecord: Sendable, Equatable {
    /// The item id.
    public let id: String
    /// All members of the record (`id`, `pipeline`, `model`, the result or `error`, tokens, timings).
    public var members: [String: JSONValue]
    /// Whether the record holds an `error` instead of a result.
    public var isError: Bool { members["error"] != nil }

    /// A record.
    public init(id: String, members: [String: JSONValue]) {
        self.id = id
        self.members = members
    }

    /// The JSONL line, newline included.
    public var line: String { JSONValue.object(members).serialized + "\n" }
}

/// Receives records from the runner's single writer thread, in input order.
public protocol RecordSink: AnyObject {
    /// Writes one record durably enough that a killed process leaves it whole or absent.
    func write(_ record: OutputRecord) throws(PipelineError)
}

/// Writes records as lines to an open file descriptor, one `write(2)` per line (standard output, a pipe, a file).
public final class DescriptorSink: RecordSink {
    /// How records become lines.
    public enum Format {
        /// JSONL.
        case jsonl
        /// CSV rows, with a header line before the first.
        case csv(CSVFormat)
    }

    private let descriptor: Int32
    private let name: String
    private let format: Format
    private var wroteHeader = false

    /// A sink on `descriptor` (not closed by the sink); `name` appears in error messages.
    public init(descriptor: Int32, name: String, format: Format = .jsonl) {
        self.descriptor = descriptor
        self.name = name
        self.format = format
    }

    /// Writes the record's line.
    public func write(_ record: OutputRecord) throws(PipelineError) {
        switch format {
        case .jsonl: try Self.writeAll(record.line, to: descriptor, name: name)
        case .csv(let csv):
            if !wroteHeader {
                try Self.writeAll(csv.header, to: descriptor, name: name)
                wroteHeader = true
            }
            try Self.writeAll(csv.row(record), to: descriptor, name: name)
        }
    }

    /// Writes all of `text`; a line is one call unless the kernel takes less (a pipe reader that is slow).
    static func writeAll(_ text: String, to descriptor: Int32, name: String) throws(PipelineError) {
        var text = text
        let failure: Int32? = text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure { throw .system(name, "write", errno: failure) }
    }
}

/// `write(2)`, named apart from the sinks' own `write` methods.
func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// CSV for spreadsheets: `id`, the task's result columns, `error_kind`, `error_message` (RFC 4180 quoting).
public struct CSVFormat: Sendable {
    /// Result columns, in order.
    public let columns: [String]

    /// The columns of `plan`'s task.
    public init(plan: PipelinePlan) {
        switch plan.task {
        case .generate: columns = ["text"]
        case .classify: columns = ["label", "probability"]
        case .extract(let fields, _): columns = fields.map(\.name)
        }
    }

    /// The header line.
    public var header: String { Self.line(["id"] + columns + ["error_kind", "error_message"]) }

    /// One record's line; extraction fields are taken from the record's `fields` object.
    public func row(_ record: OutputRecord) -> String {
        let fields = record.members["fields"]?.objectValue ?? record.members
        let error = record.members["error"]?.objectValue
        let cells = columns.map { Self.text(of: fields[$0]) }
        return Self.line([record.id] + cells + [Self.text(of: error?["kind"]), Self.text(of: error?["message"])])
    }

    private static func text(of value: JSONValue?) -> String {
        switch value {
        case nil, .null?: ""
        case .string(let text)?: text
        case let other?: other.serialized
        }
    }

    private static func line(_ cells: [String]) -> String {
        cells.map { cell in
            cell.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline })
                ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
        }.joined(separator: ",") + "\n"
    }
}
