import ArgumentParser
import Foundation
import VLPipeline

/// `vlbatch merge`: one output from the outputs of a job's shards.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the shard outputs of one job into OUTPUT, sorted by id, resumable as the unsharded job.",
        discussion: """
            Every shard file must belong to the same job (same fingerprint but for the shard) and, unless \
            --allow-incomplete is given, every shard of the job must be present. An id found in two files is kept \
            once, a result winning over an error. A torn last line of a shard (a run killed mid-write) is skipped.

            \(ExitStatus.help)
            """)

    @Argument(help: "The merged JSONL output (replaced, with its job file).")
    var output: String

    @Argument(help: "The shard outputs.")
    var shards: [String]

    @Flag(help: "Merge even when some shards of the job are missing.")
    var allowIncomplete = false

    func run() throws {
        try exitingOnPipelineError { () throws -> ExitStatus in
            let summary = try ShardMerge.merge(
                shards.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: output),
                allowIncomplete: allowIncomplete)
            writeStandardError(
                "merged \(shards.count) files into \(output): \(summary.records) records (\(summary.failed) errors), "
                    + "\(summary.duplicates) duplicates left out\n")
            return .allDone
        }
    }
}
