import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary input folder of tiny images for `vlbatch run` tests, with helpers to run and signal the command.
struct RunFixture {
    let folder: URL

    var input: String { folder.appendingPathComponent("in").path }
    var output: String { folder.appendingPathComponent("out.jsonl").path }

    /// `count` PNG headers (all the echo engine reads) in nested folders, plus `corrupt` unreadable images.
    init(images count: Int, corrupt: Int = 0) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlbatch-run-\(UUID().uuidString)")
        for index in 0..<count {
            try write("in/\(index % 3)/image-\(index).png", Self.pngHeader(width: 20 + index, height: 30))
        }
        for index in 0..<corrupt { try write("in/broken-\(index).jpg", Array("not a jpeg".utf8)) }
    }

    func write(_ path: String, _ bytes: [UInt8]) throws {
        let url = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: folder) }

    static func pngHeader(width: Int, height: Int) -> [UInt8] {
        func bigEndian(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + bigEndian(width)
            + bigEndian(height) + [8, 2, 0, 0, 0]
    }

    /// The records of a JSONL text, parsed.
    static func records(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map {
            guard let object = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] else {
                throw CocoaError(.fileReadCorruptFile)
            }
            return object
        }
    }

    /// The records of the output file.
    func outputRecords() throws -> [[String: Any]] {
        try Self.records(String(contentsOfFile: output, encoding: .utf8))
    }

    /// Runs `vlbatch` to completion with extra environment variables and optional standard input.
    static func run(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) throws
        -> CommandRunner.Output
    {
        let process = makeProcess(arguments, environment: environment)
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        stdin.fileHandleForWriting.write(Data((input ?? "").utf8))
        try stdin.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a full pipe cannot block the child (standard error carries
        // one summary line, far below a pipe's capacity).
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandRunner.Output(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: errors, as: UTF8.self))
    }

    /// Starts `vlbatch` in the background with its output discarded, for tests that signal or kill it.
    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let process = makeProcess(arguments, environment: environment)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    private static func makeProcess(_ arguments: [String], environment: [String: String]) -> Process {
        let process = Process()
        process.executableURL = CommandRunner.executable
        process.arguments = arguments
        process.currentDirectoryURL = CommandRunner.repositoryRoot
        // Scheduler variables of the machine running the tests must not shard these runs.
        var inherited = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("SLURM_") && $0.key != "JOB_COMPLETION_INDEX" && !$0.key.hasPrefix("VLBATCH_")
        }
        inherited.merge(environment) { _, new in new }
        process.environment = inherited
        return process
    }

    /// Waits until the output file holds at least `records` complete lines, or `timeout` seconds pass.
    func waitForRecords(_ records: Int, timeout: Double = 10) {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if text.split(separator: "\n").count >= records { return }
            usleep(5_000)
        }
    }
}
