import Foundation
import Pipelines
import VLCore
import VLPipeline

/// The engines `--model` can select: the built-ins compiled in, and checkpoints served by `ModelEngine`.
enum EngineCatalog {
    /// `builtin:echo`'s per-item delay in milliseconds, for tests of signals and time limits.
    static let echoDelayVariable = "VLBATCH_ECHO_DELAY_MS"

    /// The identity results will be recorded under, known without loading anything, so that the output can be
    /// checked before a model is loaded.
    ///
    /// A checkpoint's is its directory or repository and revision; a weight format other than the default bf16 gives
    /// other answers, so it is added to the revision and so to the job fingerprint.
    static func identity(of location: ModelLocation, weights: WeightFormat) throws(PipelineError) -> ModelIdentity {
        switch location {
        case .builtin(let name):
            guard name == "echo" else {
                throw .modelNotFound(reference: "builtin:\(name)", looked: ["the built-in engines (builtin:echo)"])
            }
            return EchoEngine().identity
        case .directory(let url), .cached(_, _, let url):
            let checkpoint = location.identity ?? ModelIdentity(name: url.path, revision: url.path)
            guard weights != .bf16 else { return checkpoint }
            return ModelIdentity(name: checkpoint.name, revision: "\(checkpoint.revision) (weights \(weights))")
        }
    }

    /// Loads the engine for `location` to run `plan`; `warn` receives warnings for standard error.
    ///
    /// - Throws: `PipelineError.modelLoadFailed` (exit status 3) naming the directory when the checkpoint cannot be
    ///   loaded.
    static func load(
        _ location: ModelLocation, plan: PipelinePlan, options: ModelEngine.Options, environment: [String: String],
        warn: (String) -> Void
    ) throws(PipelineError) -> any PipelineEngine {
        switch location {
        case .builtin:
            let milliseconds = environment[echoDelayVariable].flatMap { Int($0) } ?? 0
            return EchoEngine(delay: .milliseconds(milliseconds))
        case .directory(let url), .cached(_, _, let url):
            return try ModelEngine(
                directory: url, identity: try identity(of: location, weights: options.weights), plan: plan,
                options: options, warn: warn)
        }
    }
}

/// The pipelines compiled into vlbatch: every `Pipeline` type of the Pipelines target.
enum PipelineCatalog {
    /// All of them, sorted by name.
    static var all: [any Pipeline.Type] { PipelineRegistry.all.sorted { $0.name < $1.name } }

    /// The pipeline called `name`.
    static func find(_ name: String) throws(PipelineError) -> any Pipeline.Type {
        let matches = all.filter { $0.name == name }
        guard matches.count == 1 else {
            let problem =
                matches.isEmpty
                ? "no such pipeline; the pipelines are: \(all.map { $0.name }.joined(separator: ", "))"
                : "several pipeline types share this name (\(matches.map { "\($0)" }.joined(separator: ", ")))"
            throw .invalidPipeline(pipeline: name, problem: problem)
        }
        return matches[0]
    }
}
