/// Settings from the command line that replace a pipeline's own; `nil` keeps the pipeline's.
public struct PipelineOverrides: Sendable, Equatable {
    /// `--model`.
    public var model: String?
    /// `--max-tokens` (Generate only).
    public var maxTokens: Int?
    /// `--temperature`.
    public var temperature: Double?
    /// `--top-p`.
    public var topP: Double?
    /// `--seed`.
    public var seed: UInt64?
    /// `--max-image-tokens`, `--min-pixels`, `--max-pixels`; each set member replaces the pipeline's.
    public var imageBudget = ImageBudget()

    /// No overrides.
    public init() {}
}

/// A validated pipeline with the command line's overrides applied: everything a run needs to know.
public struct PipelinePlan: Sendable {
    /// The pipeline's name.
    public let name: String
    /// The pipeline's version (see `Pipeline.version`).
    public let version: String
    /// The kinds of file read.
    public let inputKinds: Set<InputKind>
    /// The prompt; for `Classify` its question, for `Extract` its instruction unless a `Prompt` stage is given.
    public let prompt: PromptTemplate
    /// The task.
    public let task: TaskSpec
    /// The output format.
    public let output: OutputFormat
    /// The model reference from the command line or the pipeline, if either gave one.
    public let model: String?
    /// Sampling settings.
    public let sampling: Sampling
    /// The image budget.
    public let imageBudget: ImageBudget
    let filters: [(name: String, predicate: @Sendable (InputItem) -> Bool)]
    let maps: [(name: String, transform: @Sendable (ItemResult) throws -> ItemResult)]

    /// Validates `definition` and applies `overrides`; the first problem found is thrown with the fix in its message.
    public init(name: String, version: String, definition: PipelineDefinition, overrides: PipelineOverrides)
        throws(PipelineError)
    {
        func problem(_ text: String) -> PipelineError { .invalidPipeline(pipeline: name, problem: text) }
        var collected = Collected()
        var sawTask = false
        for step in definition.steps {
            switch step.kind {
            case .inputs(let kinds): try collected.set(\.inputs, kinds, stage: "input (Inputs)", in: name)
            case .prompt(let prompt): try collected.set(\.prompt, prompt, stage: "Prompt", in: name)
            case .task(let task):
                try collected.set(\.task, task, stage: "task (Generate, Classify or Extract)", in: name)
                sawTask = true
            case .filter(let filterName, let predicate):
                if sawTask { throw problem("Filter \(filterName) must come before the task stage: it chooses inputs") }
                collected.filters.append((filterName, predicate))
            case .map(let mapName, let transform):
                if !sawTask { throw problem("Map \(mapName) must come after the task stage: it changes results") }
                collected.maps.append((mapName, transform))
            case .output(let output): try collected.set(\.output, output, stage: "Output", in: name)
            case .model(let model): try collected.set(\.model, model, stage: "Model", in: name)
            case .sampling(let sampling): try collected.set(\.sampling, sampling, stage: "Sampling", in: name)
            case .imageBudget(let budget): try collected.set(\.imageBudget, budget, stage: "ImageBudget", in: name)
            case .invalid(let text): throw problem(text)
            }
        }
        guard let inputs = collected.inputs, !inputs.isEmpty else {
            throw problem("no input stage; add Inputs.images(), Inputs.text() or Inputs.files(.images, .text)")
        }
        guard var task = collected.task else {
            throw problem("no task stage; add Generate(...), Classify(labels:question:) or Extract(fields:)")
        }
        self.name = name
        self.version = version
        self.inputKinds = inputs
        self.output = collected.output ?? .jsonl
        self.model = overrides.model ?? collected.model
        self.filters = collected.filters
        self.maps = collected.maps
        switch task {
        case .generate(let maxTokens):
            guard let prompt = collected.prompt else {
                throw problem("Generate needs a Prompt stage before it, e.g. Prompt(\"Describe this image.\")")
            }
            self.prompt = prompt
            task = .generate(maxTokens: overrides.maxTokens ?? maxTokens)
        case .classify(let labels, let question):
            if collected.prompt != nil {
                throw problem("Classify asks its own question; remove the Prompt stage or fold it into question:")
            }
            try Self.checkNames(labels, what: "label", stage: "Classify", pipeline: name)
            if question.isEmpty { throw problem("Classify's question is empty") }
            self.prompt = PromptTemplate(text: question, isTemplate: false)
        case .extract(let fields, let instruction):
            try Self.checkNames(fields.map(\.name), what: "field", stage: "Extract", pipeline: name)
            self.prompt = collected.prompt ?? PromptTemplate(text: instruction, isTemplate: false)
        }
        if overrides.maxTokens != nil && !task.isGeneration {
            throw problem("--max-tokens applies to Generate pipelines only")
        }
        if case .generate(let maxTokens) = task, maxTokens < 1 {
            throw problem("the token limit must be at least 1 (Generate(maxTokens:) or --max-tokens)")
        }
        self.task = task
        for placeholder in prompt.usedPlaceholders where !PromptTemplate.placeholders.contains(placeholder) {
            throw problem(
                "the prompt template uses {\(placeholder)}; the placeholders are "
                    + PromptTemplate.placeholders.map { "{\($0)}" }.joined(separator: ", "))
        }
        if prompt.usedPlaceholders.contains("text") && !inputs.contains(.text) {
            throw problem("the prompt uses {text} but the pipeline reads no text files; use Inputs.text()")
        }
        if output == .sidecarText && inputs.contains(.text) {
            throw problem("Output.sidecarText() writes NAME.txt next to each input, which would overwrite text inputs")
        }
        sampling = try Self.apply(overrides, to: collected.sampling ?? Sampling(), pipeline: name)
        imageBudget = try Self.apply(overrides.imageBudget, to: collected.imageBudget ?? ImageBudget(), pipeline: name)
    }

    /// What identifies the job: results made under another fingerprint are not reused.
    public func fingerprint(model identity: ModelIdentity, shard: Shard?) -> JobFingerprint {
        var job: [String: JSONValue] = [
            "pipeline": .string(name),
            "version": .string(version),
            "inputs": .array(inputKinds.sorted().map { .string($0.rawValue) }),
            "prompt": .string(prompt.text),
            "model": .string(identity.name),
            "model_revision": .string(identity.revision),
            "sampling": .object([
                "temperature": .number(sampling.temperature), "top_p": .number(sampling.topP),
                "seed": .string(String(sampling.seed)),
            ]),
            "image_budget": .object(
                [
                    "max_image_tokens": imageBudget.maxImageTokens.map(JSONValue.integer),
                    "min_pixels": imageBudget.minPixels.map(JSONValue.integer),
                    "max_pixels": imageBudget.maxPixels.map(JSONValue.integer),
                ].compactMapValues { $0 }),
            "filters": .array(filters.map { .string($0.name) }),
            "maps": .array(maps.map { .string($0.name) }),
        ]
        switch task {
        case .generate(let maxTokens): job["task"] = .object(["generate": .object(["max_tokens": .integer(maxTokens)])])
        case .classify(let labels, _):
            job["task"] = .object(["classify": .object(["labels": .array(labels.map(JSONValue.string))])])
        case .extract(let fields, _):
            job["task"] = .object(["extract": .object(["fields": .array(fields.map(\.fingerprint))])])
        }
        if let shard { job["shard"] = .string(shard.description) }
        return JobFingerprint(job: job)
    }

    /// Non-empty, distinct names for labels and fields.
    private static func checkNames(_ names: [String], what: String, stage: String, pipeline: String)
        throws(PipelineError)
    {
        if names.isEmpty {
            throw .invalidPipeline(pipeline: pipeline, problem: "\(stage) needs at least one \(what)")
        }
        if names.contains(where: \.isEmpty) {
            throw .invalidPipeline(pipeline: pipeline, problem: "\(stage) has an empty \(what)")
        }
        var seen: Set<String> = []
        for name in names where !seen.insert(name).inserted {
            throw .invalidPipeline(pipeline: pipeline, problem: "\(stage) lists the \(what) \"\(name)\" twice")
        }
    }

    private static func apply(_ overrides: PipelineOverrides, to base: Sampling, pipeline: String)
        throws(PipelineError) -> Sampling
    {
        var sampling = base
        if let temperature = overrides.temperature { sampling.temperature = temperature }
        if let topP = overrides.topP { sampling.topP = topP }
        if let seed = overrides.seed { sampling.seed = seed }
        if !(sampling.temperature >= 0) {
            throw .invalidPipeline(pipeline: pipeline, problem: "the temperature must be 0 or more (--temperature)")
        }
        if !(sampling.topP > 0 && sampling.topP <= 1) {
            throw .invalidPipeline(pipeline: pipeline, problem: "top-p must be above 0 and at most 1 (--top-p)")
        }
        return sampling
    }

    private static func apply(_ overrides: ImageBudget, to base: ImageBudget, pipeline: String)
        throws(PipelineError) -> ImageBudget
    {
        let budget = ImageBudget(
            maxImageTokens: overrides.maxImageTokens ?? base.maxImageTokens,
            minPixels: overrides.minPixels ?? base.minPixels, maxPixels: overrides.maxPixels ?? base.maxPixels)
        let named = [
            ("--max-image-tokens", budget.maxImageTokens), ("--min-pixels", budget.minPixels),
            ("--max-pixels", budget.maxPixels),
        ]
        for case (let flag, let value?) in named where value < 1 {
            throw .invalidPipeline(pipeline: pipeline, problem: "\(flag) must be positive, not \(value)")
        }
        if let low = budget.minPixels, let high = budget.maxPixels, low > high {
            throw .invalidPipeline(
                pipeline: pipeline, problem: "the image budget's min pixels (\(low)) exceed its max pixels (\(high))")
        }
        return budget
    }
}

extension TaskSpec {
    fileprivate var isGeneration: Bool {
        if case .generate = self { return true }
        return false
    }
}

/// Stages collected from a definition, each at most once.
private struct Collected {
    var inputs: Set<InputKind>?
    var prompt: PromptTemplate?
    var task: TaskSpec?
    var output: OutputFormat?
    var model: String?
    var sampling: Sampling?
    var imageBudget: ImageBudget?
    var filters: [(name: String, predicate: @Sendable (InputItem) -> Bool)] = []
    var maps: [(name: String, transform: @Sendable (ItemResult) throws -> ItemResult)] = []

    mutating func set<Value>(
        _ slot: WritableKeyPath<Collected, Value?>, _ value: Value, stage: String, in pipeline: String
    ) throws(PipelineError) {
        if self[keyPath: slot] != nil {
            throw .invalidPipeline(pipeline: pipeline, problem: "more than one \(stage) stage; keep one")
        }
        self[keyPath: slot] = value
    }
}

extension PipelinePlan {
    /// The items this job processes: those kept by the pipeline's `Filter` stages and, with a shard, those in it.
    public func select(_ items: [InputItem], shard: Shard?) -> [InputItem] {
        items.filter { item in
            filters.allSatisfy { $0.predicate(item) } && (shard?.contains(id: item.id) ?? true)
        }
    }
}
