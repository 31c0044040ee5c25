import Foundation

/// Everything that can go wrong in the pipeline layer, each message naming the file, stage or flag and what to do.
public enum PipelineError: Error, Equatable, CustomStringConvertible {
    // MARK: Definition and command line (usage errors: nothing has started)
    /// A pipeline definition or command-line setting is invalid.
    case invalidPipeline(pipeline: String, problem: String)
    /// An input argument names nothing, or a glob matches nothing.
    case inputNotFound(String)
    /// No input file was found at all.
    case noInputs(accepted: String)
    /// Two inputs would be recorded under the same id.
    case duplicateInputID(id: String, first: String, second: String)
    /// A `--shard` value or shard environment variable is malformed.
    case invalidShard(String)

    // MARK: Model
    /// `--model` names no directory and no repository in the local Hugging Face cache.
    case modelNotFound(reference: String, looked: [String])
    /// A Hugging Face cache entry has several snapshots and no `refs/main` to choose one.
    case ambiguousSnapshot(reference: String, snapshots: [String])
    /// The model was found but cannot be loaded.
    case modelLoadFailed(reference: String, reason: String)

    // MARK: Output and resume
    /// Another run holds the output's lock.
    case outputLocked(path: String)
    /// The output was written by a job with another fingerprint.
    case fingerprintMismatch(path: String, differences: [String], records: Int)
    /// The output exists but is not a vlbatch journal (a complete line that is not a record, or no job file).
    case corruptOutput(path: String, problem: String)
    /// Shard outputs given to `merge` do not belong together.
    case mergeMismatch(String)
    /// Reading or writing a file failed.
    case io(path: String, reason: String)

    // MARK: Per item (these become error records, the run goes on)
    /// A text input is not valid UTF-8.
    case textNotUTF8(path: String)
    /// A text input exceeds the size limit.
    case textTooLarge(path: String, bytes: Int, limit: Int)
    /// An input file cannot be read.
    case unreadableInput(path: String, reason: String)
    /// An input file is not an image the engine can decode.
    case notAnImage(path: String)
    /// The item did not finish within the per-item time limit.
    case timeLimitExceeded(seconds: Double)
    /// The engine's extraction output is not a JSON object with the declared fields.
    case invalidExtraction(String)
    /// A `Map` stage threw.
    case mapFailed(stage: String, reason: String)

    /// A message a person can act on.
    public var description: String {
        switch self {
        case .invalidPipeline(let pipeline, let problem): "pipeline \(pipeline): \(problem)"
        case .inputNotFound(let input):
            "input \(input): no such file or directory, and no file matches it as a glob"
        case .noInputs(let accepted): "no input files found (this pipeline reads \(accepted))"
        case .duplicateInputID(let id, let first, let second):
            "inputs \(first) and \(second) would both be recorded as \(id); pass their common parent folder "
                + "instead, or run them as separate jobs"
        case .invalidShard(let problem): problem
        case .modelNotFound(let reference, let looked):
            "model \(reference) not found; looked in: \(looked.joined(separator: ", ")). Pass a model directory, "
                + "or download the repository into the Hugging Face cache (this tool never uses the network)"
        case .ambiguousSnapshot(let reference, let snapshots):
            "model \(reference) has several snapshots in the cache (\(snapshots.joined(separator: ", "))) and no "
                + "refs/main; pass the snapshot directory with --model"
        case .modelLoadFailed(let reference, let reason): "cannot load model \(reference): \(reason)"
        case .outputLocked(let path):
            "\(path) is being written by another vlbatch run (lock \(path).lock is held); wait for it to finish"
        case .fingerprintMismatch(let path, let differences, let records):
            "\(path) holds \(records) records of a different job (\(differences.joined(separator: "; "))); "
                + "use --force to discard them and start anew, or choose another --output"
        case .corruptOutput(let path, let problem):
            "\(path): \(problem); repair or remove the file, or use --force to start anew"
        case .mergeMismatch(let problem): problem
        case .io(let path, let reason): "\(path): \(reason)"
        case .textNotUTF8(let path): "\(path) is not UTF-8 text"
        case .textTooLarge(let path, let bytes, let limit):
            "\(path) holds \(bytes) bytes of text; the limit is \(limit)"
        case .unreadableInput(let path, let reason): "cannot read \(path): \(reason)"
        case .notAnImage(let path): "\(path) is not a PNG or JPEG image"
        case .timeLimitExceeded(let seconds):
            "not finished within the per-item time limit of \(seconds) s (--time-limit)"
        case .invalidExtraction(let problem): "the model's extraction is unusable: \(problem)"
        case .mapFailed(let stage, let reason): "Map stage \(stage) failed: \(reason)"
        }
    }

    /// The error of a failed system call on `path`.
    static func system(_ path: String, _ action: String, errno code: Int32 = errno) -> PipelineError {
        .io(path: path, reason: "\(action): \(String(cString: strerror(code)))")
    }
}

/// How a per-item failure appears in an output record: a stable kind for programs, a message for people.
public struct ItemError: Sendable, Equatable {
    /// The enum case name of the error (`notAnImage`, `timeLimitExceeded`, ...), stable across releases.
    public let kind: String
    /// The error's description.
    public let message: String

    /// Describes any error thrown while processing an item.
    public init(_ error: any Error) {
        message = String(describing: error)
        let mirror = Mirror(reflecting: error)
        if mirror.displayStyle == .enum, let label = mirror.children.first?.label {
            kind = label
        } else {
            kind = String(describing: type(of: error))
        }
    }

    /// The `error` member of a record.
    var json: JSONValue { .object(["kind": .string(kind), "message": .string(message)]) }
}
