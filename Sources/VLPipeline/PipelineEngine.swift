/// The engine as the pipeline layer sees it: the runner's only view of a model.
///
/// The runner calls `prepare` from its decode pool, on several threads at once, so that reading, decoding and
/// preprocessing overlap with inference; it calls `run` from a single thread, the engine owner, one batch at a time.
/// An engine can therefore keep mutable model state (KV caches, scratch buffers) for `run` without locks, as long as
/// `prepare` does not touch it.
///
/// The model engine plugs in as an adapter in the command line (`EngineCatalog`), since this module imports no model
/// code: `prepare` decodes the image (or takes the text), applies `imageBudget`, builds pixel patches and prompt
/// tokens; `run` does vision, prefill and batched decoding for up to `maxBatchSize` items, with label scoring for
/// `.classify` and constrained decoding for `.extract`, seeding each item from `sampling.seed` and its id, and
/// stopping an item whose deadline has passed.
public protocol PipelineEngine: Sendable {
    /// What `prepare` makes of a request: decoded pixels, tokens, whatever `run` needs.
    associatedtype Prepared: Sendable

    /// The model, for records and the job fingerprint.
    var identity: ModelIdentity { get }

    /// The most items `run` takes at once; the runner hands over what is ready, up to this many.
    var maxBatchSize: Int { get }

    /// Reads and preprocesses one item. Throws for a bad input: the item gets an error record and the run goes on.
    func prepare(_ request: EngineRequest) throws -> Prepared

    /// Runs a batch, returning one result per job in the same order. A job whose deadline passes should end with
    /// `PipelineError.timeLimitExceeded`; the runner cannot interrupt the engine, so it relies on the engine for this.
    func run(_ batch: [EngineJob<Prepared>]) -> [Result<EngineOutput, any Error>]
}

extension PipelineEngine {
    /// One item at a time unless the engine says otherwise.
    public var maxBatchSize: Int { 1 }
}

/// One item to prepare: the raw input, the rendered prompt and the task's settings.
public struct EngineRequest: Sendable {
    /// The input file.
    public let item: InputItem
    /// The content of a text input (already read and checked to be UTF-8), `nil` for images.
    public let text: String?
    /// The prompt with its placeholders filled.
    public let prompt: String
    /// What to produce.
    public let task: TaskSpec
    /// Sampling settings; the engine derives the item's seed from `seed` and the item id.
    public let sampling: Sampling
    /// The visual-token budget.
    public let imageBudget: ImageBudget

    /// A request.
    public init(
        item: InputItem, text: String?, prompt: String, task: TaskSpec, sampling: Sampling, imageBudget: ImageBudget
    ) {
        self.item = item
        self.text = text
        self.prompt = prompt
        self.task = task
        self.sampling = sampling
        self.imageBudget = imageBudget
    }
}

/// A prepared item handed to `run`, with the moment it must be finished by.
public struct EngineJob<Prepared: Sendable>: Sendable {
    /// What `prepare` returned.
    public let prepared: Prepared
    /// The per-item time limit (`--time-limit`), `nil` without one.
    public let timeLimit: Duration?
    /// When the time limit runs out, counted from the start of the item's preparation.
    public let deadline: ContinuousClock.Instant?

    /// A job.
    public init(prepared: Prepared, timeLimit: Duration?, deadline: ContinuousClock.Instant?) {
        self.prepared = prepared
        self.timeLimit = timeLimit
        self.deadline = deadline
    }

    /// The error an engine returns for a job it stopped at its deadline.
    public var timeLimitError: PipelineError { .timeLimitExceeded(seconds: timeLimit?.seconds ?? 0) }
}

/// What the engine produced for one item.
public struct EngineOutput: Sendable, Equatable {
    /// The answer, matching the task.
    public let answer: EngineAnswer
    /// Visual tokens spent on the image (0 for text).
    public let visualTokens: Int
    /// Tokens in the whole prompt, visual ones included.
    public let promptTokens: Int
    /// Tokens generated.
    public let generatedTokens: Int

    /// An output.
    public init(answer: EngineAnswer, visualTokens: Int, promptTokens: Int, generatedTokens: Int) {
        self.answer = answer
        self.visualTokens = visualTokens
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
    }
}

/// The answer to a task.
public enum EngineAnswer: Sendable, Equatable {
    /// Generated text (`Generate`).
    case text(String)
    /// The chosen label and its probability (`Classify`).
    case label(String, probability: Double)
    /// A JSON object as text (`Extract`); the runner checks that it parses and matches the fields.
    case json(String)
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
