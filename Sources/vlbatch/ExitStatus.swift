import ArgumentParser
import Foundation
import VLPipeline

/// The exit statuses of `run` and `merge`, for cron jobs and schedulers; listed in README and `run --help`.
enum ExitStatus: Int32 {
    /// Every item has a result record.
    case allDone = 0
    /// The run finished, and some items have error records.
    case itemsFailed = 1
    /// A usage error: bad flags, an unknown or invalid pipeline, inputs that do not exist. Nothing was done.
    case usage = 2
    /// The model could not be found or loaded.
    case modelLoad = 3
    /// Another run holds the output's lock.
    case locked = 4
    /// The output belongs to another job (fingerprint mismatch) or is not a vlbatch output.
    case jobMismatch = 5
    /// The run stopped after `--max-errors` error records.
    case tooManyErrors = 6
    /// The output could not be written.
    case outputFailed = 7
    /// The engine did not return within twice `--time-limit`; the item has an error record and a rerun goes on.
    case engineHung = 8
    /// Stopped by SIGINT (128 + 2).
    case interrupted = 130
    /// Stopped by SIGTERM (128 + 15).
    case terminated = 143

    /// The text of `run --help` and README listing the statuses.
    static let help = """
        Exit status: 0 every item done; 1 finished, some items have error records; 2 usage error; 3 model not \
        found or not loadable; 4 output locked by another run; 5 output belongs to another job (use --force) or is \
        not a vlbatch output; 6 stopped after --max-errors; 7 output not writable; 8 the engine hung past twice \
        --time-limit (the item has an error record); 130/143 stopped by SIGINT/SIGTERM (rerun to resume).
        """

    /// The status for an error that ends a command before or outside the per-item work.
    init(for error: PipelineError) {
        switch error {
        case .invalidPipeline, .inputNotFound, .noInputs, .duplicateInputID, .invalidShard: self = .usage
        case .modelNotFound, .ambiguousSnapshot, .modelLoadFailed: self = .modelLoad
        case .outputLocked: self = .locked
        case .fingerprintMismatch, .corruptOutput, .mergeMismatch: self = .jobMismatch
        case .io, .textNotUTF8, .textTooLarge, .unreadableInput, .notAnImage, .timeLimitExceeded, .invalidExtraction,
            .mapFailed:
            self = .outputFailed
        }
    }
}

/// Runs `body`; a `PipelineError` is printed to standard error and becomes its exit status.
func exitingOnPipelineError(_ body: () throws -> ExitStatus) throws {
    let status: ExitStatus
    do {
        status = try body()
    } catch let error as PipelineError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        status = ExitStatus(for: error)
    }
    if status != .allDone { throw ExitCode(status.rawValue) }
}
