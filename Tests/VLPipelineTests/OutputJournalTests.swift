import Foundation
import Testing

@testable import VLPipeline

/// Resume, repair, fingerprints, locking and merging of JSONL outputs.
@Suite struct OutputJournalTests {
    static let model = ModelIdentity(name: "builtin:echo", revision: "1")

    static func fingerprint(prompt: String = "Describe.", shard: Shard? = nil) throws -> JobFingerprint {
        try PipelinePlan(
            name: "caption", version: "1",
            definition: PipelineDefinition {
                Inputs.images()
                Prompt(prompt)
                Generate(maxTokens: 16)
            },
            overrides: PipelineOverrides()
        ).fingerprint(model: model, shard: shard)
    }

    /// Opens the output of the default job.
    static func open(_ url: URL, force: Bool = false, retryErrors: Bool = false) throws -> OutputJournal {
        try OutputJournal(url: url, fingerprint: try fingerprint(), force: force, retryErrors: retryErrors)
    }

    static func record(_ id: String, error: Bool = false) -> OutputRecord {
        OutputRecord(
            id: id,
            members: [
                "id": .string(id),
                error ? "error" : "text": error ? ItemError(PipelineError.notAnImage(path: id)).json : .string("t"),
            ])
    }

    static func lines(_ url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func aRerunSkipsWhatIsDoneAndRepairsATornLine() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let output = folder.path("out.jsonl")
        let items = syntheticItems(4)
        do {
            let journal = try Self.open(output)
            #expect(journal.pending(items) == items)
            try journal.write(Self.record(items[0].id))
            try journal.write(Self.record(items[1].id, error: true))
        }
        #expect(try String(contentsOf: OutputJournal.jobFile(of: output), encoding: .utf8).contains("\"fingerprint\""))
        // A crash in the middle of a write leaves part of a line.
        let handle = try FileHandle(forWritingTo: output)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"id":"item-002.png","te"#.utf8))
        try handle.close()
        let journal = try Self.open(output)
        #expect(journal.existing.repairedBytes == 24)
        #expect(journal.existing.done == [items[0].id, items[1].id])
        #expect(journal.existing.failed == [items[1].id])
        #expect(journal.pending(items) == Array(items[2...]))
        try journal.write(Self.record(items[2].id))
        #expect(try Self.lines(output).count == 3)
        #expect(try OutputJournal.records(of: output).map(\.id) == Array(items.map(\.id)[0...2]))
    }

    @Test func retryErrorsRemovesErrorRecordsSoTheirItemsRunAgain() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let output = folder.path("out.jsonl")
        do {
            let journal = try Self.open(output)
            for (id, error) in [("a", false), ("b", true), ("c", false)] {
                try journal.write(Self.record(id, error: error))
            }
        }
        let journal = try Self.open(output, retryErrors: true)
        #expect(journal.existing.retried == 1)
        #expect(journal.existing.done == ["a", "c"])
        #expect(try OutputJournal.records(of: output).map(\.id) == ["a", "c"])
    }

    @Test func anotherJobIsRefusedUnlessForced() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let output = folder.path("out.jsonl")
        do {
            let journal = try Self.open(output)
            try journal.write(Self.record("a"))
        }
        let changed = try Self.fingerprint(prompt: "Caption.")
        #expect {
            try OutputJournal(url: output, fingerprint: changed, force: false, retryErrors: false)
        } throws: { error in
            guard case .fingerprintMismatch(_, let differences, let records) = error as? PipelineError else {
                return false
            }
            return differences == [#"prompt: "Describe." -> "Caption.""#] && records == 1
        }
        let forced = try OutputJournal(url: output, fingerprint: changed, force: true, retryErrors: false)
        #expect(forced.existing.discarded == 1 && forced.existing.done.isEmpty)
        #expect(try OutputJournal.storedFingerprint(of: output) == changed)
        #expect(try Self.lines(output).isEmpty)
    }

    @Test func csvIsRenderedFromTheRecordsWithQuoting() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let plan = try PipelinePlan(
            name: "kinds", version: "1",
            definition: PipelineDefinition {
                Inputs.images()
                Classify(labels: ["a", "b"], question: "q")
            }, overrides: PipelineOverrides())
        let output = folder.path("out.jsonl")
        let journal = try OutputJournal(
            url: output, fingerprint: plan.fingerprint(model: Self.model, shard: nil), force: false, retryErrors: false)
        try journal.write(
            OutputRecord(
                id: "x, \"1\".png",
                members: ["id": .string("x, \"1\".png"), "label": .string("a"), "probability": .number(0.75)]))
        try journal.write(Self.record("bad.png", error: true))
        let csv = folder.path("out.csv")
        try journal.exportCSV(CSVFormat(plan: plan), to: csv)
        #expect(
            try String(contentsOf: csv, encoding: .utf8) == """
                id,label,probability,error_kind,error_message
                "x, ""1"".png",a,0.75,,
                bad.png,,,notAnImage,bad.png is not a PNG or JPEG image

                """)
    }

    @Test func garbageInTheMiddleIsReportedNotSkipped() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let output = folder.path("out.jsonl")
        try Data("{\"id\":\"a\"}\nnot json\n".utf8).write(to: output)
        try Data(try Self.fingerprint().fileContent.utf8).write(to: OutputJournal.jobFile(of: output))
        #expect {
            try Self.open(output)
        } throws: {
            "\($0)".contains("line 2")
        }
    }

    /// A second holder of the lock is refused at once, and the lock is free again once released.
    @Test func theLockIsExclusive() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let output = folder.path("out.jsonl")
        var first: OutputJournal? = try Self.open(output)
        #expect(throws: PipelineError.outputLocked(path: output.path)) {
            try Self.open(output)
        }
        #expect(first != nil)
        first = nil
        _ = try OutputLock(output: output)
    }

    @Test func mergeCombinesShardsSortedAndChecksTheJob() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        var shardFiles: [URL] = []
        for index in 0..<3 {
            let url = folder.path("part-\(index).jsonl")
            let journal = try OutputJournal(
                url: url, fingerprint: try Self.fingerprint(shard: Shard(index: index, count: 3)), force: false,
                retryErrors: false)
            for id in ["z\(index)", "a\(index)"] { try journal.write(Self.record(id)) }
            shardFiles.append(url)
        }
        // A replaced pod redid one item of shard 0 in shard 1's file: kept once, the result winning.
        try OutputJournal(
            url: shardFiles[1], fingerprint: try Self.fingerprint(shard: Shard(index: 1, count: 3)), force: false,
            retryErrors: false
        )
        .write(Self.record("a0", error: true))
        let merged = folder.path("all.jsonl")
        let summary = try ShardMerge.merge(shardFiles, into: merged, allowIncomplete: false)
        #expect(summary == ShardMerge.Summary(records: 6, failed: 0, duplicates: 1))
        #expect(try OutputJournal.records(of: merged).map(\.id) == ["a0", "a1", "a2", "z0", "z1", "z2"])
        // The merge resumes as the unsharded job.
        #expect(try OutputJournal.storedFingerprint(of: merged) == Self.fingerprint())

        #expect { try ShardMerge.merge(Array(shardFiles[0...1]), into: merged, allowIncomplete: false) } throws: {
            "\($0)".contains("shards 2/3 are missing")
        }
        #expect(try ShardMerge.merge(Array(shardFiles[0...1]), into: merged, allowIncomplete: true).records == 4)
        let other = folder.path("other.jsonl")
        _ = try OutputJournal(
            url: other, fingerprint: try Self.fingerprint(prompt: "x", shard: Shard(index: 2, count: 3)), force: false,
            retryErrors: false)
        #expect {
            try ShardMerge.merge(Array(shardFiles[0...1]) + [other], into: merged, allowIncomplete: false)
        } throws: {
            "\($0)".contains("another job")
        }
        // A shard whose run still holds its lock is not merged in part.
        let running = try OutputLock(output: shardFiles[2])
        #expect(throws: PipelineError.outputLocked(path: shardFiles[2].path)) {
            try ShardMerge.merge(shardFiles, into: merged, allowIncomplete: false)
        }
        withExtendedLifetime(running) {}
    }
}

/// `--model` resolution without the network.
@Suite struct ModelLocationTests {
    @Test func repositoriesAreFoundInTheHuggingFaceCache() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let entry = "hub/models--Qwen--Qwen2-VL-2B-Instruct"
        try folder.write("\(entry)/snapshots/abc123/config.json", Array("{}".utf8))
        try folder.write("\(entry)/snapshots/def456/config.json", Array("{}".utf8))
        try folder.write("\(entry)/refs/main", Array("def456\n".utf8))
        let environment = ["HF_HOME": folder.url.path, "HOME": "/nonexistent"]
        #expect(
            try ModelLocation.resolve("Qwen/Qwen2-VL-2B-Instruct", environment: environment)
                == .cached(
                    repository: "Qwen/Qwen2-VL-2B-Instruct", revision: "def456",
                    directory: folder.path("\(entry)/snapshots/def456")))
        try FileManager.default.removeItem(at: folder.path("\(entry)/refs"))
        #expect { try ModelLocation.resolve("Qwen/Qwen2-VL-2B-Instruct", environment: environment) } throws: {
            "\($0)".contains("abc123, def456")
        }
        try FileManager.default.removeItem(at: folder.path("\(entry)/snapshots/abc123"))
        #expect(
            try ModelLocation.resolve(
                "Qwen/Qwen2-VL-2B-Instruct", environment: ["HF_HUB_CACHE": folder.path("hub").path]
            )
            .identity == ModelIdentity(name: "Qwen/Qwen2-VL-2B-Instruct", revision: "def456"))
    }

    @Test func directoriesBuiltinsAndMissingModels() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        guard case .directory(let directory) = try ModelLocation.resolve(folder.url.path, environment: [:]) else {
            Issue.record("an existing directory is a model directory")
            return
        }
        #expect(directory.path == folder.url.path)
        #expect(try ModelLocation.resolve("builtin:echo", environment: [:]) == .builtin("echo"))
        let environment = ["HF_HUB_CACHE": "/cache-a", "HF_HOME": "/home-b", "HOME": "/users/c"]
        #expect {
            try ModelLocation.resolve("Org/Missing", environment: environment)
        } throws: { error in
            guard case .modelNotFound(_, let looked) = error as? PipelineError else { return false }
            return looked.dropFirst()
                == [
                    "/cache-a/models--Org--Missing", "/home-b/hub/models--Org--Missing",
                    "/users/c/.cache/huggingface/hub/models--Org--Missing",
                ]
        }
        #expect(throws: PipelineError.self) { try ModelLocation.resolve("./no/such/dir/here", environment: [:]) }
    }
}
