/// FNV-1a, 64 bits: a hash that is the same in every process and on every machine, unlike Swift's `Hasher`, which
/// is seeded per process. Shards and fingerprints must agree across machines and runs.
public enum StableHash {
    /// The FNV-1a 64 hash of `text`'s UTF-8 bytes.
    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}

/// Which model produced results: its name in records and a revision that changes when the weights do.
public struct ModelIdentity: Sendable, Equatable {
    /// Shown in every record's `model`: the repository id, directory or built-in name given.
    public let name: String
    /// The snapshot revision or resolved directory: part of the fingerprint.
    public let revision: String

    /// An identity.
    public init(name: String, revision: String) {
        self.name = name
        self.revision = revision
    }
}

/// The parameters that make results reusable: pipeline, version, prompt, task, model, sampling, image budget, shard.
///
/// Stored beside the output as `OUTPUT.jsonl.job.json` (`{"fingerprint": "<16 hex>", "job": {...}}`), so that a
/// rerun can tell whether the records in the output were made by the same job, and say what changed if not.
public struct JobFingerprint: Sendable, Equatable {
    /// Two fingerprints are equal when their serializations are: a parsed job file holds `0` where a fresh one holds
    /// `0.0`, and both mean the same job.
    public static func == (lhs: JobFingerprint, rhs: JobFingerprint) -> Bool { lhs.hash == rhs.hash }

    /// The parameters, as written in the job file.
    public let job: [String: JSONValue]

    /// A fingerprint of `job`.
    public init(job: [String: JSONValue]) { self.job = job }

    /// FNV-1a 64 of the sorted-key serialization of `job`, in hex.
    public var hash: String {
        let value = String(StableHash.fnv1a64(JSONValue.object(job).serialized), radix: 16)
        return String(repeating: "0", count: 16 - value.count) + value
    }

    /// The job file's content.
    var fileContent: String {
        JSONValue.object(["fingerprint": .string(hash), "job": .object(job)]).serialized + "\n"
    }

    /// Reads a job file's content.
    init(fileContent: [UInt8], path: String) throws(PipelineError) {
        guard let object = try? JSONValue.parse(bytes: fileContent).objectValue,
            let job = object["job"]?.objectValue
        else { throw .corruptOutput(path: path, problem: "the job file is not a vlbatch job description") }
        self.job = job
    }

    /// The same job without its shard: what a merge of all shards resumes as.
    var unsharded: JobFingerprint {
        var job = job
        job["shard"] = nil
        return JobFingerprint(job: job)
    }

    /// Human-readable differences from `other`, one per top-level parameter, `key: old -> new`.
    func differences(from other: JobFingerprint) -> [String] {
        let keys = Set(job.keys).union(other.job.keys).sorted()
        return keys.compactMap { key in
            let old = other.job[key]
            let new = job[key]
            guard old?.serialized != new?.serialized else { return nil }
            return "\(key): \(old?.serialized ?? "none") -> \(new?.serialized ?? "none")"
        }
    }
}

/// One part of a job split over several machines: items whose id hashes to `index` modulo `count`.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    /// This part, counting from 0.
    public let index: Int
    /// The number of parts.
    public let count: Int

    /// A shard; `index` must be below `count`.
    public init(index: Int, count: Int) throws(PipelineError) {
        guard count >= 1, index >= 0, index < count else {
            throw .invalidShard("shard \(index)/\(count) is impossible: the index counts from 0 and is below the count")
        }
        self.index = index
        self.count = count
    }

    /// Parses `i/n`, as given to `--shard`.
    public init(parsing text: String) throws(PipelineError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw .invalidShard("--shard \(text): write the shard as INDEX/COUNT with INDEX from 0, e.g. 0/4")
        }
        try self.init(index: index, count: count)
    }

    /// `i/n`.
    public var description: String { "\(index)/\(count)" }

    /// Whether the item with this id belongs to this shard.
    public func contains(id: String) -> Bool { StableHash.fnv1a64(id) % UInt64(count) == UInt64(index) }

    /// The shard given by a scheduler's environment: a Slurm job array (`SLURM_ARRAY_TASK_ID`, counted from
    /// `SLURM_ARRAY_TASK_MIN`, and `SLURM_ARRAY_TASK_COUNT`) or a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`,
    /// with the count from `count` or `VLBATCH_SHARD_COUNT`); `nil` when neither is present.
    public static func fromEnvironment(_ environment: [String: String], count: Int?) throws(PipelineError) -> Shard? {
        func number(_ name: String) throws(PipelineError) -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text) else { throw .invalidShard("\(name)=\(text) is not a whole number") }
            return value
        }
        // Spelled out rather than with `??`, which would erase the typed throw.
        func total(orVariable name: String) throws(PipelineError) -> Int? {
            if let count { return count }
            return try number(name)
        }
        if let task = try number("SLURM_ARRAY_TASK_ID") {
            guard let total = try total(orVariable: "SLURM_ARRAY_TASK_COUNT") else {
                throw .invalidShard("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard-count")
            }
            let first = try number("SLURM_ARRAY_TASK_MIN")
            return try Shard(index: task - (first ?? 0), count: total)
        }
        if let index = try number("JOB_COMPLETION_INDEX") {
            guard let total = try total(orVariable: "VLBATCH_SHARD_COUNT") else {
                throw .invalidShard(
                    "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the shard count is not; pass "
                        + "--shard-count N or set VLBATCH_SHARD_COUNT to the Job's completions")
            }
            return try Shard(index: index, count: total)
        }
        return nil
    }
}
