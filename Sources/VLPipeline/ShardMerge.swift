import Foundation

/// Combines the outputs of a job's shards into one output, resumable as the unsharded job.
public enum ShardMerge {
    /// What a merge did.
    public struct Summary: Sendable, Equatable {
        /// Records in the merged output.
        public var records = 0
        /// Of these, error records.
        public var failed = 0
        /// Records left out because another shard file held the same id (a result wins over an error).
        public var duplicates = 0
    }

    /// Merges `shards` into `output`: every shard must belong to the same job (the same fingerprint but for the
    /// shard), and, unless `allowIncomplete`, every shard of the job must be present. Records are sorted by id; the
    /// output and its job file are replaced atomically, under the output's lock; a shard still locked by its run is
    /// refused (`outputLocked`).
    public static func merge(_ shards: [URL], into output: URL, allowIncomplete: Bool) throws(PipelineError)
        -> Summary
    {
        guard !shards.isEmpty else { throw .mergeMismatch("merge needs at least one shard output") }
        let outputPath = output.standardizedFileURL.path
        if let same = shards.first(where: { $0.standardizedFileURL.path == outputPath }) {
            throw .mergeMismatch("the merged output \(same.path) is also one of the shards; choose another name")
        }
        let lock = try OutputLock(output: output)
        // A shard still being written would be merged in part, without a word: its lock says so.
        let shardLocks = try shards.map { (shard) throws(PipelineError) in try OutputLock(output: shard) }
        var job: JobFingerprint?
        var shardNames: [String] = []
        for shard in shards {
            guard let stored = try OutputJournal.storedFingerprint(of: shard) else {
                throw .mergeMismatch(
                    "\(shard.path) has no job file \(OutputJournal.jobFile(of: shard).path); is it a vlbatch output?")
            }
            if let job, stored.unsharded != job {
                throw .mergeMismatch(
                    "\(shard.path) belongs to another job than \(shards[0].path): "
                        + stored.unsharded.differences(from: job).joined(separator: "; "))
            }
            job = stored.unsharded
            if let name = stored.job["shard"]?.stringValue { shardNames.append(name) }
        }
        if !allowIncomplete, let missing = missingShards(shardNames) {
            throw .mergeMismatch(
                "shards \(missing.joined(separator: ", ")) are missing; merge them too, or pass --allow-incomplete")
        }
        var chosen: [String: OutputRecord] = [:]
        var summary = Summary()
        for shard in shards {
            for record in try OutputJournal.records(of: shard) {
                if let kept = chosen[record.id] {
                    summary.duplicates += 1
                    if !kept.isError || record.isError { continue }
                }
                chosen[record.id] = record
            }
        }
        let records = chosen.values.sorted { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        summary.records = records.count
        summary.failed = records.count { $0.isError }
        // Records first: a crash before the job file is written leaves a job file that does not match, which a
        // rerun refuses, rather than new records under an old description.
        try OutputJournal.replace(output, with: records.map(\.line).joined())
        try OutputJournal.replace(OutputJournal.jobFile(of: output), with: job!.fileContent)
        withExtendedLifetime((lock, shardLocks)) {}
        return summary
    }

    /// The shards `i/n` absent from `names` when all name the same `n`; `nil` when none is missing or the outputs
    /// were not sharded alike.
    static func missingShards(_ names: [String]) -> [String]? {
        let shards = names.compactMap { try? Shard(parsing: $0) }
        guard shards.count == names.count, let count = shards.first?.count, shards.allSatisfy({ $0.count == count })
        else { return nil }
        let present = Set(shards.map(\.index))
        let missing = (0..<count).filter { !present.contains($0) }.map { "\($0)/\(count)" }
        return missing.isEmpty ? nil : missing
    }
}
