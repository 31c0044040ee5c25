import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive `flock` on `OUTPUT.lock`, held while the object lives; a second holder is refused at once.
///
/// The lock sits in its own file, never replaced, so that rewriting the output (retrying errors, merging) cannot
/// lose it; the file is left behind on exit, since deleting it would let two runs lock two different files.
/// The kernel releases the lock when the process ends, however it ends.
public final class OutputLock {
    private let descriptor: Int32

    /// Takes the lock of `output`, or throws `outputLocked` if another process holds it.
    public init(output: URL) throws(PipelineError) {
        let path = output.path + ".lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if descriptor < 0 { throw .system(path, "cannot create the lock file") }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(descriptor)
            if code == EWOULDBLOCK { throw .outputLocked(path: output.path) }
            throw .system(path, "cannot lock", errno: code)
        }
    }

    deinit { close(descriptor) }
}

/// The JSONL output of a job: the records, the job file beside them, and the lock; what resume reads.
///
/// Opening it takes the lock, compares the job fingerprint with the one stored in `OUTPUT.job.json`, repairs a torn
/// last line left by a crash, and reads which items are done. Each record is then appended with one `write(2)` on a
/// descriptor opened with `O_APPEND`, so a killed process leaves every earlier record whole.
public final class OutputJournal: RecordSink {
    /// What an earlier run left in the output.
    public struct Existing: Sendable, Equatable {
        /// Items with a record (results, and errors unless retried).
        public var done: Set<String> = []
        /// Of `done`, those whose record is an error.
        public var failed: Set<String> = []
        /// Error records removed so their items are tried again (`--retry-errors`).
        public var retried = 0
        /// Records discarded because the job changed and `--force` was given.
        public var discarded = 0
        /// Bytes of a torn last line that were cut off.
        public var repairedBytes = 0
    }

    /// The output file.
    public let url: URL
    /// What an earlier run left.
    public let existing: Existing
    private let lock: OutputLock
    private let descriptor: Int32

    /// The job file of an output: `OUTPUT.job.json`.
    public static func jobFile(of output: URL) -> URL { URL(fileURLWithPath: output.path + ".job.json") }

    /// Opens `url` for the job `fingerprint`: resumes it, or starts anew when `force` is given and the job changed.
    public init(url: URL, fingerprint: JobFingerprint, force: Bool, retryErrors: Bool) throws(PipelineError) {
        self.url = url
        lock = try OutputLock(output: url)
        let jobFile = Self.jobFile(of: url)
        var existing = Existing()
        let read = try Self.readLines(url, repair: true)
        var lines = read.lines
        existing.repairedBytes = read.torn
        let stored = try Self.readIfPresent(jobFile).map { (bytes) throws(PipelineError) in
            try JobFingerprint(fileContent: bytes, path: jobFile.path)
        }
        if stored != fingerprint && !lines.isEmpty {
            guard force else {
                guard let stored else {
                    throw .corruptOutput(path: url.path, problem: "it has records but no job file \(jobFile.path)")
                }
                throw .fingerprintMismatch(
                    path: url.path, differences: fingerprint.differences(from: stored), records: lines.count)
            }
            existing.discarded = lines.count
            lines = []
            // Emptied before the new job file is written: a crash in between leaves an empty output, which any job
            // may take, never old records under a new fingerprint.
            try Self.replace(url, with: "")
        }
        if stored != fingerprint { try Self.replace(jobFile, with: fingerprint.fileContent) }
        var kept: [Substring] = []
        for (number, line) in lines.enumerated() {
            guard let (id, isError) = RecordScanner.scan(line) ?? Self.parseHead(line) else {
                throw .corruptOutput(path: url.path, problem: "line \(number + 1) is not a vlbatch record")
            }
            if isError && retryErrors {
                existing.retried += 1
                continue
            }
            kept.append(line)
            existing.done.insert(id)
            if isError { existing.failed.insert(id) }
        }
        if existing.retried > 0 { try Self.replace(url, with: kept.map { $0 + "\n" }.joined()) }
        self.existing = existing
        descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if descriptor < 0 { throw .system(url.path, "cannot open for appending") }
    }

    deinit { close(descriptor) }

    /// The items of `items` that have no record yet, in order.
    public func pending(_ items: [InputItem]) -> [InputItem] { items.filter { !existing.done.contains($0.id) } }

    /// Appends the record's line.
    public func write(_ record: OutputRecord) throws(PipelineError) {
        try DescriptorSink.writeAll(record.line, to: descriptor, name: url.path)
    }

    /// Flushes the records to the disk, so they survive a power failure as well as a killed process.
    public func synchronize() throws(PipelineError) {
        if fsync(descriptor) != 0 { throw .system(url.path, "fsync") }
    }

    /// Every record of `url`, in file order, skipping a torn last line.
    public static func records(of url: URL) throws(PipelineError) -> [OutputRecord] {
        return try readLines(url, repair: false).lines.enumerated().map { (number, line) throws(PipelineError) in
            guard let members = try? JSONValue.parse(line).objectValue, let id = members["id"]?.stringValue else {
                throw .corruptOutput(path: url.path, problem: "line \(number + 1) is not a vlbatch record")
            }
            return OutputRecord(id: id, members: members)
        }
    }

    /// The id and error flag of a line the scanner did not read, by a full parse; `nil` if it is not a record.
    private static func parseHead(_ line: Substring) -> (id: String, isError: Bool)? {
        guard let record = try? JSONValue.parse(line).objectValue, let id = record["id"]?.stringValue else {
            return nil
        }
        return (id, record["error"] != nil)
    }

    /// Renders every record of the output as CSV into `target` (replaced atomically), for spreadsheets.
    public func exportCSV(_ format: CSVFormat, to target: URL) throws(PipelineError) {
        let rows = try Self.records(of: url).map(format.row)
        try Self.replace(target, with: format.header + rows.joined())
    }

    /// The stored fingerprint of an output, `nil` without a job file.
    public static func storedFingerprint(of url: URL) throws(PipelineError) -> JobFingerprint? {
        let jobFile = jobFile(of: url)
        guard let bytes = try readIfPresent(jobFile) else { return nil }
        return try JobFingerprint(fileContent: bytes, path: jobFile.path)
    }

    /// Writes `text` to a temporary file beside `url`, flushes it and renames it over `url`: readers and crashes
    /// see the old content or the new, never a mix.
    static func replace(_ url: URL, with text: String) throws(PipelineError) {
        let temporary = url.path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 { throw .system(temporary, "cannot create") }
        defer { close(descriptor) }
        try DescriptorSink.writeAll(text, to: descriptor, name: temporary)
        if fsync(descriptor) != 0 { throw .system(temporary, "fsync") }
        if rename(temporary, url.path) != 0 { throw .system(url.path, "cannot replace") }
    }

    private static func readIfPresent(_ url: URL) throws(PipelineError) -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw .io(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
    }

    /// The complete lines of the file. A last line without its newline was torn by a crash: with `repair` it is cut
    /// off the file, otherwise only skipped; `torn` counts its bytes.
    private static func readLines(_ url: URL, repair: Bool) throws(PipelineError) -> (lines: [Substring], torn: Int) {
        guard let bytes = try readIfPresent(url) else { return ([], 0) }
        let complete = bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        let torn = bytes.count - complete
        if torn > 0 && repair && truncate(url.path, off_t(complete)) != 0 { throw .system(url.path, "cannot repair") }
        let text = String(decoding: bytes[..<complete], as: UTF8.self)
        return (text.split(separator: "\n"), torn)
    }
}
