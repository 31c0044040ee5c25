import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `vlbatch run` end to end with the built-in echo engine: records, resume, exit statuses and locking.
@Suite struct RunCommandTests {
    static let echo = ["--model", "builtin:echo"]

    /// The records without timings, which differ between runs.
    static func stable(_ text: String) throws -> [String] {
        try RunFixture.records(text).map { record in
            var record = record
            record["timings"] = nil
            let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
    }

    @Test func recordsAreTheSameInTheSameOrderForAnyNumberOfWorkers() throws {
        let fixture = try RunFixture(images: 24, corrupt: 1)
        defer { fixture.cleanUp() }
        var outputs: [[String]] = []
        for workers in [1, 2, 5] {
            let result = try RunFixture.run(
                ["run", "caption-images", fixture.input, "--workers", "\(workers)", "--quiet"] + Self.echo)
            // One corrupt file: the run finishes with status 1 and one error record.
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stderr.isEmpty)
            outputs.append(try Self.stable(result.stdout))
        }
        #expect(outputs[0] == outputs[1] && outputs[1] == outputs[2])
        let records = try RunFixture.records(
            try RunFixture.run(["run", "caption-images", fixture.input, "--quiet"] + Self.echo).stdout)
        #expect(records.count == 25)
        let ids = records.compactMap { $0["id"] as? String }
        #expect(ids == ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(ids.first == "0/image-0.png")
        let failures = records.filter { $0["error"] != nil }
        #expect(failures.count == 1)
        #expect((failures.first?["error"] as? [String: Any])?["kind"] as? String == "notAnImage")
        #expect(
            records.allSatisfy {
                $0["pipeline"] as? String == "caption-images" && $0["model"] as? String == "builtin:echo"
            })
    }

    /// The README's commands on the bundled samples, against golden output. The golden files were made with
    /// `vlbatch run NAME Samples/Images --model builtin:echo --quiet | sed -E 's/,"timings":\{[^}]*\}//'`.
    @Test(arguments: ["caption-images", "classify-documents"])
    func samplesMatchGoldenOutput(pipeline: String) throws {
        let result = try RunFixture.run(["run", pipeline, "Samples/Images", "--quiet"] + Self.echo)
        #expect(result.status == 0, "\(result.stderr)")
        let withoutTimings = result.stdout.replacing(#/,"timings":\{[^}]*\}/#, with: "")
        let golden = CommandRunner.repositoryRoot.appendingPathComponent(
            "Tests/vlbatchTests/Golden/run-\(pipeline)-echo.jsonl")
        #expect(withoutTimings == (try String(contentsOf: golden, encoding: .utf8)))
    }

    @Test func aRerunSkipsDoneItemsAndRetriesErrorsOnRequest() throws {
        let fixture = try RunFixture(images: 10, corrupt: 2)
        defer { fixture.cleanUp() }
        let arguments = ["run", "caption-images", fixture.input, "--output", fixture.output] + Self.echo
        let first = try RunFixture.run(arguments)
        #expect(first.status == 1)
        #expect(first.stdout.isEmpty)
        #expect(first.stderr.contains("10 done, 0 skipped (already in the output), 2 failed"))
        let second = try RunFixture.run(arguments)
        #expect(second.status == 1, "earlier error records still count as failures")
        #expect(second.stderr.contains("0 done, 12 skipped"))
        #expect(try fixture.outputRecords().count == 12)
        // The broken files are fixed; --retry-errors redoes only them.
        for index in 0..<2 { try fixture.write("in/broken-\(index).jpg", RunFixture.pngHeader(width: 5, height: 5)) }
        let third = try RunFixture.run(arguments + ["--retry-errors"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stderr.contains("2 done, 10 skipped"))
        let records = try fixture.outputRecords()
        #expect(records.count == 12 && records.allSatisfy { $0["error"] == nil })
        #expect(Set(records.compactMap { $0["id"] as? String }).count == 12)
    }

    @Test func aChangedJobIsRefusedUntilForced() throws {
        let fixture = try RunFixture(images: 3)
        defer { fixture.cleanUp() }
        let arguments = ["run", "caption-images", fixture.input, "--output", fixture.output, "--quiet"] + Self.echo
        #expect(try RunFixture.run(arguments).status == 0)
        let changed = try RunFixture.run(arguments + ["--max-tokens", "5"])
        #expect(changed.status == 5)
        #expect(
            changed.stderr.contains("task: {\"generate\":{\"max_tokens\":64}} -> {\"generate\":{\"max_tokens\":5}}"))
        #expect(changed.stderr.contains("--force"))
        let forced = try RunFixture.run(arguments + ["--max-tokens", "5", "--force"])
        #expect(forced.status == 0)
        #expect(try fixture.outputRecords().count == 3)
    }

    @Test func aSecondRunOnALockedOutputExitsAtOnce() throws {
        let fixture = try RunFixture(images: 3)
        defer { fixture.cleanUp() }
        try FileManager.default.createDirectory(at: fixture.folder, withIntermediateDirectories: true)
        let descriptor = open(fixture.output + ".lock", O_RDWR | O_CREAT, 0o644)
        defer { close(descriptor) }
        #expect(flock(descriptor, LOCK_EX | LOCK_NB) == 0)
        let start = Date()
        let result = try RunFixture.run(
            ["run", "caption-images", fixture.input, "--output", fixture.output] + Self.echo)
        #expect(result.status == 4)
        #expect(result.stderr.contains("another vlbatch run"))
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(!FileManager.default.fileExists(atPath: fixture.output))
    }

    /// Usage errors (2) and model errors (3), each with a message naming the fix.
    @Test(arguments: [
        (["run", "no-such-pipeline", "in"], Int32(2), "caption-images"),
        (["run", "caption-images"], 2, "give input files"),
        (["run", "caption-images", "Samples/Images", "--workers", "0"], 2, "--workers"),
        (["run", "caption-images", "Samples/Images", "--bogus"], 2, "--bogus"),
        (["run", "caption-images", "no/such/folder", "--model", "builtin:echo"], 2, "no/such/folder"),
        (["run", "caption-images", "Samples/Images", "--shard", "4/4", "--model", "builtin:echo"], 2, "counts from 0"),
        (["run", "caption-images", "Samples/Images", "--model", "Samples/Processors/qwen3.5"], 3, "config.json"),
        (["run", "caption-images", "Samples/Images", "--model", "NoOrg/NoModel"], 3, "models--NoOrg--NoModel"),
        (["run", "caption-images", "Samples/Images", "--model", "builtin:nothing"], 3, "builtin:echo"),
    ])
    func errorsExitWithTheirStatus(arguments: [String], status: Int32, message: String) throws {
        let result = try RunFixture.run(arguments, environment: ["HF_HOME": "/nonexistent-hf-home"])
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func maxErrorsStopsTheRunWithItsOwnStatus() throws {
        let fixture = try RunFixture(images: 0, corrupt: 30)
        defer { fixture.cleanUp() }
        let result = try RunFixture.run(
            ["run", "caption-images", fixture.input, "--max-errors", "2", "--workers", "1", "--quiet"] + Self.echo)
        #expect(result.status == 6)
        let count = try RunFixture.records(result.stdout).count
        #expect(count >= 2 && count < 30)
    }

    /// A finished job is recognised from its output alone: the model is not even loaded.
    @Test func aFinishedJobLoadsNoModel() throws {
        let fixture = try RunFixture(images: 2)
        defer { fixture.cleanUp() }
        let arguments = [
            "run", "caption-images", fixture.input, "--output", fixture.output, "--model", "Samples/Processors/qwen3.5",
        ]
        // The model cannot be loaded, but the job file is written first.
        #expect(try RunFixture.run(arguments).status == 3)
        let records = (0..<2).map { #"{"id":"\#($0)/image-\#($0).png","text":"done earlier"}"# + "\n" }
        try Data(records.joined().utf8).write(to: URL(fileURLWithPath: fixture.output))
        let rerun = try RunFixture.run(arguments)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("0 done, 2 skipped"))
    }

    @Test func slowItemsGetTimeLimitErrorRecords() throws {
        let fixture = try RunFixture(images: 3)
        defer { fixture.cleanUp() }
        let start = Date()
        let result = try RunFixture.run(
            ["run", "caption-images", fixture.input, "--time-limit", "0.05", "--quiet"] + Self.echo,
            environment: ["VLBATCH_ECHO_DELAY_MS": "2000"])
        #expect(result.status == 1)
        #expect(Date().timeIntervalSince(start) < 5)
        let kinds = try RunFixture.records(result.stdout).map { ($0["error"] as? [String: Any])?["kind"] as? String }
        #expect(kinds == ["timeLimitExceeded", "timeLimitExceeded", "timeLimitExceeded"])
    }

    @Test func filesFromStandardInputAndTheModelFromTheEnvironment() throws {
        let fixture = try RunFixture(images: 4)
        defer { fixture.cleanUp() }
        let list = "\(fixture.input)/0/image-0.png\n# a comment\n\(fixture.input)/1/image-1.png\n"
        let result = try RunFixture.run(
            ["run", "caption-images", "--files-from", "-", "--quiet"], environment: ["VLBATCH_MODEL": "builtin:echo"],
            input: list)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            try RunFixture.records(result.stdout).compactMap { $0["id"] as? String } == [
                "\(fixture.input)/0/image-0.png", "\(fixture.input)/1/image-1.png",
            ])
    }

    @Test func csvPipelinesAndListing() throws {
        let list = try RunFixture.run(["list"])
        #expect(list.status == 0)
        for name in ["caption-images", "classify-documents", "extract-fields", "describe-text"] {
            #expect(list.stdout.contains(name))
        }
        #expect(!list.stdout.contains("invalid"))
        let fixture = try RunFixture(images: 2)
        defer { fixture.cleanUp() }
        try fixture.write("in/letter.txt", Array("Dear Sir,\nthank you.\n".utf8))
        let classified = try RunFixture.run(["run", "classify-documents", fixture.input, "--quiet"] + Self.echo)
        let records = try RunFixture.records(classified.stdout)
        #expect(records.count == 3)
        let labels: Set<String> = ["invoice", "receipt", "letter", "form", "other"]
        #expect(
            records.allSatisfy {
                labels.contains($0["label"] as? String ?? "") && ($0["probability"] as? Double ?? 0) > 0
            })
        let extracted = try RunFixture.run(["run", "extract-fields", fixture.input, "--quiet"] + Self.echo)
        let fields = try RunFixture.records(extracted.stdout).compactMap { $0["fields"] as? [String: Any] }
        #expect(fields.count == 3 && fields.allSatisfy { Set($0.keys) == ["vendor", "date", "total", "currency"] })
    }
}
