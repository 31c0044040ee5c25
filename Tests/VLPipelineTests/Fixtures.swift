import Foundation
import Testing

@testable import VLPipeline

/// A fresh temporary folder per test, removed by `cleanUp()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("vlpipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `bytes` at `path` (relative), creating folders.
    @discardableResult
    func write(_ path: String, _ bytes: [UInt8]) throws -> URL {
        let file = url.appendingPathComponent(path)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: file)
        return file
    }

    /// Writes a PNG signature and IHDR chunk declaring `width` x `height`: enough for the echo engine.
    @discardableResult
    func writePNG(_ path: String, width: Int = 64, height: Int = 48) throws -> URL {
        func bigEndian(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
        let header: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        return try write(path, header + bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0])
    }

    func path(_ relative: String) -> URL { url.appendingPathComponent(relative) }

    func cleanUp() { try? FileManager.default.removeItem(at: url) }
}

/// The pipelines the tests run.
enum TestPipelines {
    static func caption(_ extra: PipelineDefinition = PipelineDefinition(steps: [])) throws -> PipelinePlan {
        try PipelinePlan(
            name: "caption", version: "1",
            definition: PipelineDefinition {
                Inputs.images()
                Prompt("Describe.")
                Generate(maxTokens: 16)
                extra
            }, overrides: PipelineOverrides())
    }
}

/// Collects records in memory, in the order the writer wrote them.
final class MemorySink: RecordSink, @unchecked Sendable {
    // @unchecked Sendable: `records` is written by the runner's one writer thread and read after `run` returns.
    private(set) var records: [OutputRecord] = []
    /// Called with the number of records written so far, after each one.
    var afterWrite: ((Int) -> Void)?
    var ids: [String] { records.map(\.id) }

    func write(_ record: OutputRecord) throws(PipelineError) {
        records.append(record)
        afterWrite?(records.count)
    }
}

/// An engine that sleeps a pseudo-random time in `prepare` and `run` (to shuffle completion order) and tracks the
/// items between the start of preparation and the end of their run.
final class ShufflingEngine: PipelineEngine, @unchecked Sendable {
    // @unchecked Sendable: the counters are only touched while holding `lock`.
    struct Prepared: Sendable {
        let id: String
    }

    private let lock = NSLock()
    private var started = 0
    private(set) var maxBatchSeen = 0
    let maxBatchSize: Int
    let failing: Set<String>

    init(maxBatchSize: Int = 1, failing: Set<String> = []) {
        self.maxBatchSize = maxBatchSize
        self.failing = failing
    }

    var identity: ModelIdentity { ModelIdentity(name: "shuffle", revision: "1") }

    var preparedCount: Int { lock.withLock { started } }

    func prepare(_ request: EngineRequest) throws -> Prepared {
        lock.withLock { started += 1 }
        Thread.sleep(forTimeInterval: Double(StableHash.fnv1a64(request.item.id) % 3) * 0.001)
        if failing.contains(request.item.id) { throw PipelineError.notAnImage(path: request.item.id) }
        return Prepared(id: request.item.id)
    }

    func run(_ batch: [EngineJob<Prepared>]) -> [Result<EngineOutput, any Error>] {
        lock.withLock { maxBatchSeen = max(maxBatchSeen, batch.count) }
        Thread.sleep(forTimeInterval: Double(StableHash.fnv1a64(batch[0].prepared.id) % 2) * 0.001)
        return batch.map {
            .success(
                EngineOutput(
                    answer: .text("about \($0.prepared.id)"), visualTokens: 1, promptTokens: 2, generatedTokens: 3))
        }
    }
}

/// Items `item-000.png` ... that need no file (for engines that do not read).
func syntheticItems(_ count: Int) -> [InputItem] {
    (0..<count).map { index in
        let id = "item-" + String(format: "%03d", index) + ".png"
        return InputItem(id: id, url: URL(fileURLWithPath: "/nonexistent/" + id), kind: .images)
    }
}
