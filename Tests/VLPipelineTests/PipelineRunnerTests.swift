import Foundation
import Testing

@testable import VLPipeline

/// The threaded runner with fake engines: order, the in-flight bound, error records, limits and stopping.
@Suite struct PipelineRunnerTests {
    static func run<Engine: PipelineEngine>(
        _ plan: PipelinePlan, _ engine: Engine, _ items: [InputItem], configure: (inout RunOptions) -> Void = { _ in }
    ) -> (MemorySink, RunStatistics) {
        var options = RunOptions()
        configure(&options)
        let sink = MemorySink()
        let statistics = PipelineRunner(plan: plan, engine: engine, items: items, options: options).run(into: sink)
        return (sink, statistics)
    }

    /// Records come out in input order whatever the number of workers and batch size, while completion order is
    /// shuffled by the engine's delays; the number of items in flight stays within the window.
    @Test(arguments: [(1, 1), (2, 1), (3, 4), (4, 2), (8, 3)])
    func recordsKeepInputOrderWithinTheWindow(workers: Int, batch: Int) throws {
        let items = syntheticItems(60)
        let engine = ShufflingEngine(maxBatchSize: batch)
        let (sink, statistics) = Self.run(try TestPipelines.caption(), engine, items) { $0.workers = workers }
        #expect(sink.ids == items.map(\.id))
        #expect(sink.records.allSatisfy { $0.members["text"] == .string("about \($0.id)") })
        #expect(statistics.succeeded == 60 && statistics.failed == 0 && statistics.stopReason == nil)
        #expect(statistics.peakInFlight <= 2 * workers + batch)
        #expect(engine.maxBatchSeen <= batch)
        #expect(statistics.generatedTokens == 180)
    }

    /// Memory stays flat: with a slow writer, preparation never runs more than the window ahead of it.
    @Test func preparationWaitsForTheWriter() throws {
        final class SlowSink: RecordSink, @unchecked Sendable {
            // @unchecked Sendable: written by the runner's writer thread only; read after `run` returns.
            let engine: ShufflingEngine
            var aheadOfWriter: [Int] = []
            var written = 0
            init(engine: ShufflingEngine) { self.engine = engine }
            func write(_ record: OutputRecord) throws(PipelineError) {
                Thread.sleep(forTimeInterval: 0.002)
                written += 1
                aheadOfWriter.append(engine.preparedCount - written)
            }
        }
        let engine = ShufflingEngine()
        let sink = SlowSink(engine: engine)
        var options = RunOptions()
        options.workers = 4
        options.window = 5
        let statistics = PipelineRunner(
            plan: try TestPipelines.caption(), engine: engine, items: syntheticItems(80), options: options
        )
        .run(into: sink)
        #expect(statistics.written == 80)
        #expect(statistics.peakInFlight <= 5)
        #expect((sink.aheadOfWriter.max() ?? 99) <= 5)
    }

    /// A corrupt, an empty and a missing file each get one error record; the run goes on and finishes.
    @Test func badFilesGetErrorRecordsAndTheRunFinishes() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        try folder.writePNG("a.png")
        try folder.write("b.png", Array("not an image".utf8))
        try folder.write("c.jpg", [])
        try folder.writePNG("d.png", width: 2000, height: 1000)
        var items = try InputCollector(kinds: [.images], workingDirectory: folder.url).collect(arguments: ["."])
        items.append(InputItem(id: "gone.png", url: folder.path("gone.png"), kind: .images))
        let (sink, statistics) = Self.run(try TestPipelines.caption(), EchoEngine(), items) { $0.workers = 3 }
        #expect(sink.ids == ["a.png", "b.png", "c.jpg", "d.png", "gone.png"])
        let kinds = sink.records.map { $0.members["error"]?.objectValue?["kind"]?.stringValue }
        #expect(kinds == [nil, "notAnImage", "notAnImage", nil, "unreadableInput"])
        #expect(statistics.failed == 3 && statistics.succeeded == 2)
        let message = sink.records[1].members["error"]?.objectValue?["message"]?.stringValue ?? ""
        #expect(message.contains("b.png"))
        #expect(sink.records[3].members["visual_tokens"] == .integer(648))
        #expect(sink.records[0].members["pipeline"] == .string("caption"))
        #expect(sink.records[0].members["model"] == .string("builtin:echo"))
    }

    @Test func slowItemsGetTimeLimitErrors() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let items = try (0..<2).map { InputItem(id: "\($0).png", url: try folder.writePNG("\($0).png"), kind: .images) }
        let start = ContinuousClock.now
        let (slow, statistics) = Self.run(try TestPipelines.caption(), EchoEngine(delay: .milliseconds(400)), items) {
            $0.timeLimit = .milliseconds(50)
            $0.workers = 1
        }
        #expect(ContinuousClock.now - start < .milliseconds(350))
        #expect(
            slow.records.map { $0.members["error"]?.objectValue?["kind"] } == [
                .string("timeLimitExceeded"), .string("timeLimitExceeded"),
            ])
        #expect(statistics.failed == 2)
    }

    /// An engine that ignores deadlines cannot hang the run: past twice the limit its batch is written off.
    @Test func aHungEngineIsWrittenOffAndTheRunStops() throws {
        struct StuckEngine: PipelineEngine {
            var identity: ModelIdentity { ModelIdentity(name: "stuck", revision: "1") }
            func prepare(_ request: EngineRequest) throws -> Int { 0 }
            func run(_ batch: [EngineJob<Int>]) -> [Result<EngineOutput, any Error>] {
                Thread.sleep(forTimeInterval: 3)
                return batch.map { _ in .failure(PipelineError.invalidExtraction("too late")) }
            }
        }
        let start = ContinuousClock.now
        let (sink, statistics) = Self.run(try TestPipelines.caption(), StuckEngine(), syntheticItems(5)) {
            $0.timeLimit = .milliseconds(100)
            // One worker, so the first item is the one in the engine.
            $0.workers = 1
        }
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(statistics.stopReason == .engineHung)
        #expect(sink.ids == ["item-000.png"])
        #expect(sink.records[0].members["error"]?.objectValue?["kind"] == .string("timeLimitExceeded"))
    }

    @Test func maxErrorsStopsTakingItems() throws {
        let items = syntheticItems(100)
        let engine = ShufflingEngine(failing: Set(items.map(\.id)))
        let (sink, statistics) = Self.run(try TestPipelines.caption(), engine, items) {
            $0.maxErrors = 3
            $0.workers = 2
        }
        #expect(statistics.stopReason == .maxErrors)
        #expect(sink.records.count >= 3 && sink.records.count < 100)
        #expect(sink.ids == Array(items.map(\.id).prefix(sink.records.count)))
    }

    /// After `stop`, the records written are in order with no duplicates, and the runner returns.
    @Test func stopFinishesCleanly() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let items = try (0..<40).map {
            InputItem(id: "\($0).png", url: try folder.writePNG("\($0).png"), kind: .images)
        }
        let runner = PipelineRunner(
            plan: try TestPipelines.caption(), engine: EchoEngine(delay: .milliseconds(20)), items: items)
        let sink = MemorySink()
        // Stopped from the writer after the third record, as a signal handler would, at a moment that does not
        // depend on the machine's load.
        sink.afterWrite = { if $0 == 3 { runner.stop() } }
        let statistics = runner.run(into: sink)
        #expect(statistics.stopReason == .requested)
        // Items in the engine when the stop came are finished: at most the window (2 workers: 5) more.
        #expect((3...8).contains(sink.records.count))
        #expect(Set(sink.ids).count == sink.ids.count)
        let positions = sink.ids.map { id in items.firstIndex { $0.id == id }! }
        #expect(positions == positions.sorted())
    }

    @Test func mapsTransformResultsAndTheirFailuresBecomeErrorRecords() throws {
        struct Refused: Error {}
        let plan = try TestPipelines.caption(
            PipelineDefinition {
                Map("upper") { result in
                    var result = result
                    result.text = result.text?.uppercased()
                    result.fields["length"] = .integer(result.text?.count ?? 0)
                    if result.item.id.hasSuffix("1.png") { throw Refused() }
                    return result
                }
            })
        let (sink, _) = Self.run(plan, ShufflingEngine(), syntheticItems(2))
        #expect(sink.records[0].members["text"] == .string("ABOUT ITEM-000.PNG"))
        #expect(sink.records[0].members["length"] == .integer(18))
        #expect(sink.records[1].members["error"]?.objectValue?["kind"] == .string("mapFailed"))
    }

    /// Extraction output must parse and match the declared fields, or the item gets an error record.
    @Test(arguments: [
        (#"{"vendor":"ACME","total":12.5}"#, nil),
        (#"{"vendor":"ACME","total":null}"#, nil),
        (#"{"vendor":"ACME"}"#, "invalidExtraction"),
        (#"{"vendor":3,"total":1}"#, "invalidExtraction"),
        (#"{"vendor":"A","total":1,"extra":true}"#, "invalidExtraction"),
        (#"["ACME"]"#, "invalidExtraction"),
    ])
    func extractionsAreChecked(json: String, errorKind: String?) throws {
        struct FixedEngine: PipelineEngine {
            let json: String
            var identity: ModelIdentity { ModelIdentity(name: "fixed", revision: "1") }
            func prepare(_ request: EngineRequest) throws -> Int { 0 }
            func run(_ batch: [EngineJob<Int>]) -> [Result<EngineOutput, any Error>] {
                batch.map { _ in
                    .success(EngineOutput(answer: .json(json), visualTokens: 0, promptTokens: 1, generatedTokens: 1))
                }
            }
        }
        let plan = try PipelinePlan(
            name: "extract", version: "1",
            definition: PipelineDefinition {
                Inputs.images()
                Extract(fields: [ExtractField("vendor"), ExtractField("total", .number, optional: true)])
            }, overrides: PipelineOverrides())
        let (sink, _) = Self.run(plan, FixedEngine(json: json), syntheticItems(1))
        #expect(sink.records[0].members["error"]?.objectValue?["kind"]?.stringValue == errorKind)
        if errorKind == nil { #expect(sink.records[0].members["fields"] == (try JSONValue.parse(json))) }
    }

    @Test func textInputsFeedThePromptAndBadTextIsAnError() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        try folder.write("a.txt", Array("héllo\nworld\n".utf8))
        try folder.write("b.txt", [0xFF, 0xFE, 0x00])
        let plan = try PipelinePlan(
            name: "describe", version: "1",
            definition: PipelineDefinition {
                Inputs.text()
                Prompt(template: "{file_name}: {text}")
                Generate(maxTokens: 100)
            }, overrides: PipelineOverrides())
        let items = try InputCollector(kinds: [.text], workingDirectory: folder.url).collect(arguments: ["."])
        let (sink, _) = Self.run(plan, EchoEngine(), items)
        #expect(
            sink.records[0].members["text"]
                == .string("text a.txt: 12 characters, 2 lines; prompt: a.txt: héllo\nworld\n"))
        #expect(sink.records[1].members["error"]?.objectValue?["kind"] == .string("textNotUTF8"))
    }

    @Test func sidecarTextFilesAreWrittenBesideImages() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        try folder.writePNG("photos/cat.png", width: 10, height: 20)
        let plan = try TestPipelines.caption(PipelineDefinition { Output.sidecarText() })
        let items = try InputCollector(kinds: [.images], workingDirectory: folder.url).collect(arguments: ["photos"])
        let (sink, _) = Self.run(plan, EchoEngine(), items)
        let sidecar = folder.path("photos/cat.txt")
        #expect(try String(contentsOf: sidecar, encoding: .utf8) == "png image cat.png: 10x20; prompt: Describe.\n")
        #expect(sink.records[0].members["sidecar"] == .string(sidecar.path))
    }
}
