import Foundation
import Pipelines
import VLPipeline

/// The engines `--model` can select. Built-ins are compiled in; checkpoints will be served by the real engine.
enum EngineCatalog {
    /// `builtin:echo`'s per-item delay in milliseconds, for tests of signals and time limits.
    static let echoDelayVariable = "VLBATCH_ECHO_DELAY_MS"

    /// The identity results will be recorded under, known without loading anything, so that the output can be
    /// checked before a model is loaded.
    static func identity(of location: ModelLocation) throws(PipelineError) -> ModelIdentity {
        switch location {
        case .builtin(let name):
            guard name == "echo" else {
                throw .modelNotFound(reference: "builtin:\(name)", looked: ["the built-in engines (builtin:echo)"])
            }
            return EchoEngine().identity
        case .directory, .cached: return location.identity!
        }
    }

    /// Loads the engine for `location`.
    static func load(_ location: ModelLocation, environment: [String: String]) throws(PipelineError)
        -> any PipelineEngine
    {
        switch location {
        case .builtin:
            let milliseconds = environment[echoDelayVariable].flatMap { Int($0) } ?? 0
            return EchoEngine(delay: .milliseconds(milliseconds))
        case .directory(let url), .cached(_, _, let url):
            // The model engine (issue [qwen2vl] / [qwen35]) is not part of vlbatch yet; this is where it plugs in.
            throw .modelLoadFailed(
                reference: url.path,
                reason: "the model engine is not available in this build yet; use --model builtin:echo to try a "
                    + "pipeline")
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
