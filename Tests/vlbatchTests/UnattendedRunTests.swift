import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What unattended runs meet: signals, kills at any moment, and jobs split over machines.
@Suite struct UnattendedRunTests {
    static let echo = ["--model", "builtin:echo"]

    /// The output holds complete, distinct records only (no torn line after a clean stop).
    static func expectConsistent(_ fixture: RunFixture) throws -> [String] {
        let text = try String(contentsOfFile: fixture.output, encoding: .utf8)
        #expect(text.isEmpty || text.hasSuffix("\n"))
        let ids = try RunFixture.records(text).compactMap { $0["id"] as? String }
        #expect(Set(ids).count == ids.count)
        return ids
    }

    /// SIGINT and SIGTERM stop the run with 130 / 143, leaving a consistent output that a rerun completes.
    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func signalsStopCleanlyAndTheRunResumes(signal: Int32, status: Int32) throws {
        let fixture = try RunFixture(images: 40)
        defer { fixture.cleanUp() }
        let arguments = ["run", "caption-images", fixture.input, "--output", fixture.output] + Self.echo
        let process = try RunFixture.start(arguments, environment: ["VLBATCH_ECHO_DELAY_MS": "25"])
        fixture.waitForRecords(3)
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == status)
        let stopped = try Self.expectConsistent(fixture)
        #expect(stopped.count >= 3 && stopped.count < 40)
        let resumed = try RunFixture.run(arguments)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("\(40 - stopped.count) done, \(stopped.count) skipped"))
        #expect(try Self.expectConsistent(fixture).count == 40)
    }

    /// `kill -9` at random moments, many times, then a run to the end: exactly one record per input.
    ///
    /// Half the kills come at a random moment after the start (often before the first record: startup, the walk, the
    /// job file), half a random moment after the output has grown (while records are being written).
    @Test func killedRunsResumeWithNoRecordLostOrDuplicated() throws {
        let total = 120
        let fixture = try RunFixture(images: total)
        defer { fixture.cleanUp() }
        let arguments =
            ["run", "caption-images", fixture.input, "--output", fixture.output, "--workers", "3"] + Self.echo
        var progress: [Int] = []
        for kill in 0..<26 {
            let process = try RunFixture.start(arguments, environment: ["VLBATCH_ECHO_DELAY_MS": "5"])
            if kill % 2 == 1 {
                fixture.waitForRecords((progress.last ?? 0) + 1, timeout: 2)
                usleep(UInt32.random(in: 1_000...40_000))
            } else {
                usleep(UInt32.random(in: 1_000...200_000))
            }
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            // A killed run may leave a torn last line; every complete line is a distinct record.
            let text = (try? String(contentsOfFile: fixture.output, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            let complete = text.hasSuffix("\n") || text.isEmpty ? lines : lines.dropLast()
            let ids = try RunFixture.records(complete.joined(separator: "\n")).compactMap { $0["id"] as? String }
            #expect(Set(ids).count == ids.count)
            progress.append(ids.count)
        }
        #expect(progress == progress.sorted(), "no record is ever lost: \(progress)")
        #expect(Set(progress.filter { $0 > 0 && $0 < total }).count >= 4, "kills came mid-run: \(progress)")
        let final = try RunFixture.run(arguments)
        #expect(final.status == 0, "\(final.stderr)")
        let ids = try Self.expectConsistent(fixture)
        #expect(ids.count == total)
        #expect(Set(ids) == Set((0..<total).map { "\($0 % 3)/image-\($0).png" }))
    }

    /// Slurm array tasks each take a shard from the environment; merged, they are the whole input, once.
    @Test func slurmShardsMergeIntoTheWholeInput() throws {
        let fixture = try RunFixture(images: 30)
        defer { fixture.cleanUp() }
        let parts = (1...3).map { fixture.folder.appendingPathComponent("part-\($0).jsonl").path }
        var counts: [Int] = []
        for task in 1...3 {
            let result = try RunFixture.run(
                [
                    "run", "caption-images", fixture.input, "--output", fixture.folder.path + "/part-{shard}.jsonl",
                    "--quiet",
                ]
                    + Self.echo,
                environment: [
                    "SLURM_ARRAY_TASK_ID": "\(task)", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3",
                ])
            #expect(result.status == 0, "\(result.stderr)")
            counts.append(
                try RunFixture.records(
                    String(
                        contentsOfFile: parts[task - 1].replacingOccurrences(
                            of: "part-\(task)", with: "part-\(task - 1)"), encoding: .utf8)
                ).count)
        }
        #expect(counts.reduce(0, +) == 30 && counts.allSatisfy { $0 > 0 })
        let shardFiles = (0..<3).map { fixture.folder.appendingPathComponent("part-\($0).jsonl").path }
        let merged = fixture.folder.appendingPathComponent("all.jsonl").path
        let incomplete = try RunFixture.run(["merge", merged] + shardFiles.prefix(2))
        #expect(incomplete.status == 5)
        #expect(incomplete.stderr.contains("2/3"))
        let merge = try RunFixture.run(["merge", merged] + shardFiles)
        #expect(merge.status == 0, "\(merge.stderr)")
        let ids = try RunFixture.records(String(contentsOfFile: merged, encoding: .utf8)).compactMap {
            $0["id"] as? String
        }
        #expect(ids.count == 30 && Set(ids).count == 30)
        #expect(ids == ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        // The merged output resumes as the unsharded job: nothing is left to do.
        let rerun = try RunFixture.run(["run", "caption-images", fixture.input, "--output", merged] + Self.echo)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("0 done, 30 skipped"))
    }

    /// A Kubernetes Indexed Job gives the index; the count comes from --shard-count. A shard rerun is idempotent.
    @Test func kubernetesIndexWithShardCount() throws {
        let fixture = try RunFixture(images: 20)
        defer { fixture.cleanUp() }
        var total = 0
        for index in 0..<2 {
            let arguments = ["run", "caption-images", fixture.input, "--shard-count", "2", "--quiet"] + Self.echo
            let environment = ["JOB_COMPLETION_INDEX": "\(index)"]
            let result = try RunFixture.run(arguments, environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            total += try RunFixture.records(result.stdout).count
        }
        #expect(total == 20)
        let missing = try RunFixture.run(
            ["run", "caption-images", fixture.input] + Self.echo, environment: ["JOB_COMPLETION_INDEX": "0"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("--shard-count"))
    }
}
