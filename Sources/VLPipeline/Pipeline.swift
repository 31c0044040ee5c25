/// A batch job declared in Swift: a name, a summary and a body of stages.
///
/// ```swift
/// struct CaptionImages: Pipeline {
///     static let name = "caption-images"
///     static let summary = "A one-sentence caption for every image"
///     var body: PipelineDefinition {
///         Inputs.images()
///         Prompt("Describe this image in one sentence.")
///         Generate(maxTokens: 64)
///     }
/// }
/// ```
/// A type conforming to `Pipeline` in the `Pipelines` target is found at build time and listed by `vlbatch list`.
public protocol Pipeline: Sendable {
    /// The name used on the command line (`vlbatch run NAME`) and in every record.
    static var name: String { get }
    /// One line for `vlbatch list`.
    static var summary: String { get }
    /// Part of the job fingerprint: bump it when a `Map` or `Filter` closure changes, which the fingerprint cannot
    /// see, so that earlier outputs are not silently resumed.
    static var version: String { get }
    /// Pipelines are made without arguments; settings come from the stages and the command line.
    init()
    /// The stages, in order.
    @PipelineBuilder var body: PipelineDefinition { get }
}

extension Pipeline {
    /// Version 1 until the author says otherwise.
    public static var version: String { "1" }

    /// The validated plan of this pipeline with the command line's overrides applied.
    public static func plan(overrides: PipelineOverrides = PipelineOverrides()) throws(PipelineError) -> PipelinePlan {
        try PipelinePlan(name: name, version: version, definition: Self().body, overrides: overrides)
    }
}

/// The stages of a pipeline, collected flat in the order written.
public struct PipelineDefinition: PipelineComponent {
    /// The collected steps.
    public let steps: [PipelineStep]

    /// A definition made of `steps`.
    public init(steps: [PipelineStep]) { self.steps = steps }

    /// A reusable group of stages, written with the same builder as a pipeline body.
    public init(@PipelineBuilder _ build: () -> PipelineDefinition) { self = build() }
}

/// Anything that can appear in a pipeline body: a stage, or a group of stages.
public protocol PipelineComponent: Sendable {
    /// The steps this component contributes, in order.
    var steps: [PipelineStep] { get }
}

/// One step of a pipeline; made only by the stage types (`Inputs`, `Prompt`, `Generate`, ...).
public struct PipelineStep: Sendable {
    enum Kind: Sendable {
        case inputs(Set<InputKind>)
        case prompt(PromptTemplate)
        case task(TaskSpec)
        case filter(name: String, predicate: @Sendable (InputItem) -> Bool)
        case map(name: String, transform: @Sendable (ItemResult) throws -> ItemResult)
        case output(OutputFormat)
        case model(String)
        case sampling(Sampling)
        case imageBudget(ImageBudget)
        /// A stage that could not be built (an `Extract` type with an unsupported property); validation reports it.
        case invalid(String)
    }

    let kind: Kind
}

/// Collects stages flat, so a mistake is reported once by validation rather than as a type error in a user's file.
@resultBuilder
public enum PipelineBuilder {
    /// A stage or group becomes its steps.
    public static func buildExpression(_ component: some PipelineComponent) -> [PipelineStep] { component.steps }

    /// Steps of consecutive statements, in order.
    public static func buildBlock(_ parts: [PipelineStep]...) -> [PipelineStep] { parts.flatMap { $0 } }

    /// `if` without `else`.
    public static func buildOptional(_ part: [PipelineStep]?) -> [PipelineStep] { part ?? [] }

    /// The `if` branch of `if`/`else`.
    public static func buildEither(first part: [PipelineStep]) -> [PipelineStep] { part }

    /// The `else` branch of `if`/`else`.
    public static func buildEither(second part: [PipelineStep]) -> [PipelineStep] { part }

    /// `for` loops.
    public static func buildArray(_ parts: [[PipelineStep]]) -> [PipelineStep] { parts.flatMap { $0 } }

    /// The body's value.
    public static func buildFinalResult(_ steps: [PipelineStep]) -> PipelineDefinition {
        PipelineDefinition(steps: steps)
    }
}
