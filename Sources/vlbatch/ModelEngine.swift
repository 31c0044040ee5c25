import Foundation
import VLCore
import VLEngine
import VLImage
import VLModels
import VLPipeline
import VLTokenizer

/// The pipeline engine backed by a checkpoint: what `vlbatch run --model DIR` uses.
///
/// `prepare` (the decode pool, several threads) reads and decodes the image or takes the text, renders the user turn
/// with the checkpoint's chat format — the image first, then the prompt — tokenizes it and preprocesses the image
/// within the request's visual-token budget; it never touches the model. `run` (the engine owner, one thread) answers
/// one item at a time:
///
/// - `.generate`: `SingleSequenceGenerator`, sampling as the pipeline's `Sampling` says (temperature 0 is greedy;
///   otherwise temperature and top-p, no top-k, min-p or repetition penalty: the checkpoint's `generation_config.json`
///   sampling values are not used, its stop tokens are), each item seeded by `SamplingSeed(run: seed, item: id)`.
/// - `.classify`: `LabelScorer`, the exact probability of every label as the whole answer; the question is asked as
///   written (list the labels in it for a model that does not know them).
/// - `.extract`: plain generation of a JSON object with the fields named in the prompt, the outermost `{...}` of the
///   answer taken as the result. Nothing forces the model to answer in JSON yet: the runner turns an answer that is
///   not the declared object into an `invalidExtraction` error record. Constrained decoding, which makes the answer
///   always parse and match the fields, is issue 9's.
///
/// Items are not batched (issue 9's scheduler will decode many sequences together). A text input's content is part of
/// the prompt when the pipeline's template uses `{text}`; otherwise it follows the prompt after a blank line.
/// An item whose deadline passes stops at the next model call (image encoding, prefill or a decode step) with the
/// job's `timeLimitError`.
struct ModelEngine: PipelineEngine {
    /// How the engine runs; none of it but `weights` changes results.
    struct Options: Sendable {
        /// The format of the decoder's weight matrices.
        var weights: WeightFormat = .bf16
        /// Compute threads.
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount
        /// Generating items decoded together (`BatchGenerator`).
        var batch: Int = 4
        /// Bytes the generating items' states may take together.
        var stateMemory: Int = 4096 << 20
        /// The image decoder's safety limits (`--max-input-pixels`).
        var decodingLimits = ImageDecodingLimits()
    }

    /// One item, ready for the model.
    struct Prepared: Sendable {
        let itemID: String
        let task: TaskSpec
        let sampling: Sampling
        /// The whole prompt, each image expanded to its visual tokens.
        let tokens: [Int32]
        let images: [ImagePatches]
        /// `.classify`: each label's tokens (see `LabelScorer`), in the pipeline's order.
        let labels: [[Int32]]
    }

    /// What `prepare` needs of the checkpoint besides the model.
    private struct Checkpoint: Sendable {
        let format: ChatFormat
        let tokenizer: PromptTokenizer
        let processorConfig: ImageProcessorConfig
        let stopTokens: Set<Int32>
    }

    let identity: ModelIdentity
    private let model: any VisionLanguageModel
    private let checkpoint: Checkpoint
    /// The processor for the plan's image budget; another budget gets its own processor.
    private let budget: ImageBudget
    private let planProcessor: QwenImageProcessor
    private let promptHoldsText: Bool
    private let decodingLimits: ImageDecodingLimits
    private let pool: ComputePool
    /// Generating items decoded together.
    let maxBatchSize: Int
    /// Bytes their states may take together.
    private let stateMemory: Int
    /// Every token's bytes, for constrained JSON; built only for a pipeline with an Extract task.
    private let jsonVocabulary: JSONTokenConstraint.Vocabulary?
    /// The token that ends a constrained JSON answer.
    private let endOfTurn: Int32

    /// Loads the checkpoint in `directory` for `plan`'s items; `warn` receives what the user should know (a chat
    /// template vlbatch was not checked against).
    ///
    /// - Throws: `PipelineError.modelLoadFailed` naming the directory, and `.invalidPipeline` when the plan's image
    ///   budget does not fit the checkpoint's processor.
    init(
        directory: URL, identity: ModelIdentity, plan: PipelinePlan, options: Options, warn: (String) -> Void
    ) throws(PipelineError) {
        do {
            // The model first: its loader names the supported model types.
            model = try ModelRegistry.load(directory: directory, weights: options.weights)
            let format = try ModelType.chatFormat(directory: directory)
            let template = try CheckpointChatTemplate.read(directory: directory)
            if template.verdict != .known(format) {
                warn(
                    "warning: the chat template of \(directory.path) is \(template.verdict), not one vlbatch was "
                        + "checked against; prompts use the built-in \(format.rawValue) format\n")
            }
            let tokenizer = try PromptTokenizer(tokenizer: Tokenizer.load(directory: directory))
            guard let endOfTurn = tokenizer.tokenizer.specialTokens[QwenSpecialToken.turnEnd] else {
                throw ModelError.missingToken(QwenSpecialToken.turnEnd)
            }
            self.endOfTurn = endOfTurn
            if case .extract = plan.task {
                jsonVocabulary = JSONTokenConstraint.Vocabulary(
                    tokenizer: tokenizer.tokenizer, size: model.vocabularySize)
            } else {
                jsonVocabulary = nil
            }
            checkpoint = Checkpoint(
                format: format, tokenizer: tokenizer,
                processorConfig: try ImageProcessorConfig.load(directory: directory),
                stopTokens: try tokenizer.stopTokenIDs(GenerationConfig.load(directory: directory)))
        } catch {
            throw .modelLoadFailed(reference: directory.path, reason: "\(error)")
        }
        do {
            planProcessor = try Self.processor(checkpoint.processorConfig, budget: plan.imageBudget)
        } catch {
            throw .invalidPipeline(pipeline: plan.name, problem: "\(error) (for the model in \(directory.path))")
        }
        self.identity = identity
        budget = plan.imageBudget
        promptHoldsText = plan.prompt.isTemplate && plan.prompt.text.contains("{text}")
        decodingLimits = options.decodingLimits
        maxBatchSize = options.batch
        stateMemory = options.stateMemory
        pool = ComputePool(threadCount: options.threads)
    }

    // MARK: - Preparation (decode pool)

    func prepare(_ request: EngineRequest) throws -> Prepared {
        var question = request.prompt
        if case .extract(let fields, _) = request.task { question += "\n\n" + Self.schemaSentence(fields) }
        var parts: [ChatMessage.Part] = []
        var images: [ImagePatches] = []
        if let text = request.text {
            parts.append(.text(promptHoldsText ? question : question + "\n\n" + text))
        } else {
            let path = request.item.url.path
            let decoded = try ImageDecoder.decode(fileAt: path, limits: decodingLimits)
            let processor =
                request.imageBudget == budget
                ? planProcessor : try Self.processor(checkpoint.processorConfig, budget: request.imageBudget)
            images.append(try processor.preprocess(decoded.image, source: path))
            parts += [.image, .text(question)]
        }
        let segments = try checkpoint.format.render([.user(parts)])
        let tokens = try checkpoint.tokenizer.tokenize(segments, imageTokenCounts: images.map(\.imageTokenCount))
        var labels: [[Int32]] = []
        if case .classify(let names, _) = request.task {
            labels = try LabelScorer.labelTokens(names, tokenizer: checkpoint.tokenizer)
        }
        return Prepared(
            itemID: request.item.id, task: request.task, sampling: request.sampling, tokens: tokens, images: images,
            labels: labels)
    }

    private static func processor(_ config: ImageProcessorConfig, budget: ImageBudget) throws(ModelError)
        -> QwenImageProcessor
    {
        let limits = VisualTokenBudget(
            minPixels: budget.minPixels, maxPixels: budget.maxPixels, maxImageTokens: budget.maxImageTokens)
        return QwenImageProcessor(config: try limits.applied(to: config))
    }

    /// What an extraction prompt says about its answer, e.g. `Answer with a JSON object with exactly these keys:
    /// "vendor" (a string), "total" (a number or null).`
    static func schemaSentence(_ fields: [ExtractField]) -> String {
        let keys = fields.map { field in
            let type =
                switch field.type {
                case .string: "a string"
                case .integer: "an integer"
                case .number: "a number"
                case .boolean: "true or false"
                }
            return "\"\(field.name)\" (\(type)\(field.optional ? " or null" : ""))"
        }
        return "Answer with a JSON object with exactly these keys: \(keys.joined(separator: ", "))."
    }

    // MARK: - Inference (engine owner)

    func run(_ batch: [EngineJob<Prepared>]) -> [Result<EngineOutput, any Error>] {
        var results = [Result<EngineOutput, any Error>?](repeating: nil, count: batch.count)
        // Generate and Extract decode together (continuous batching); Classify scores its labels item by item.
        var generating: [Int] = []
        var jobs: [GenerationJob] = []
        for index in batch.indices {
            if case .classify = batch[index].prepared.task { continue }
            do {
                jobs.append(try generationJob(batch[index]))
                generating.append(index)
            } catch {
                results[index] = .failure(error)
            }
        }
        let outcomes = BatchGenerator.run(
            jobs, model: model, pool: pool, maxBatch: maxBatchSize, memoryBudget: stateMemory)
        for (index, outcome) in zip(generating, outcomes) {
            let job = batch[index]
            results[index] = Result {
                switch outcome {
                case .success(let result): return try output(job.prepared, generated: result.tokens)
                case .failure(.deadlinePassed): throw job.timeLimitError
                case .failure(.model(let error)): throw error
                }
            }
        }
        for index in batch.indices where results[index] == nil {
            // Classify items (the others all have a result by now).
            let job = batch[index]
            results[index] = Result {
                do {
                    return try classify(job.prepared, model: DeadlineBoundModel(base: model, deadline: job.deadline))
                } catch let error as ModelError where error == DeadlineBoundModel.expired {
                    throw job.timeLimitError
                }
            }
        }
        return results.map { $0! }
    }

    /// A Generate or Extract item as a generation job: the pipeline's sampling (temperature 0 is greedy), the item's
    /// own seed, the stop tokens of `generation_config.json`. An Extract item is constrained to the JSON object of its
    /// fields, with room for the longest such object.
    private func generationJob(_ job: EngineJob<Prepared>) throws -> GenerationJob {
        let prepared = job.prepared
        var maxTokens = 0
        var constraint: JSONTokenConstraint?
        switch prepared.task {
        case .generate(let limit): maxTokens = limit
        case .extract(let fields, _):
            let schema = JSONObjectSchema(fields: fields.map { Self.schemaField($0) })
            constraint = JSONTokenConstraint(schema: schema, vocabulary: jsonVocabulary!, stopToken: endOfTurn)
            maxTokens = constraint!.maxTokens
        case .classify: preconditionFailure("Classify items are scored, not generated")
        }
        let sampling = prepared.sampling
        let parameters =
            sampling.temperature == 0
            ? SamplingParameters.greedy
            : try SamplingParameters(
                doSample: true, temperature: sampling.temperature, topK: 0, topP: sampling.topP, seed: sampling.seed)
        return GenerationJob(
            request: GenerationRequest(
                tokens: prepared.tokens, images: prepared.images, maxNewTokens: maxTokens,
                stopTokens: checkpoint.stopTokens),
            sampling: parameters, seed: SamplingSeed(run: sampling.seed, item: prepared.itemID), deadline: job.deadline,
            constraint: constraint)
    }

    /// A pipeline field as the constrained decoder's schema field.
    static func schemaField(_ field: ExtractField) -> JSONObjectSchema.Field {
        let type: JSONObjectSchema.ValueType =
            switch field.type {
            case .string: .string
            case .integer: .integer
            case .number: .number
            case .boolean: .boolean
            }
        return JSONObjectSchema.Field(name: field.name, type: type, optional: field.optional)
    }

    private func output(_ prepared: Prepared, generated tokens: [Int32]) throws -> EngineOutput {
        let answer: EngineAnswer
        if case .extract = prepared.task {
            answer = .json(decode(tokens))
        } else {
            answer = .text(decode(tokens))
        }
        return EngineOutput(
            answer: answer, visualTokens: prepared.tokens.count { $0 == model.imageTokenID },
            promptTokens: prepared.tokens.count, generatedTokens: tokens.count)
    }

    private func classify(_ prepared: Prepared, model: DeadlineBoundModel) throws -> EngineOutput {
        guard case .classify(let labels, _) = prepared.task else { preconditionFailure("not a Classify item") }
        let scores = try LabelScorer.score(
            prompt: prepared.tokens, images: prepared.images, labels: prepared.labels, model: model, pool: pool)
        // Nothing is generated: every label is scored.
        return EngineOutput(
            answer: .label(labels[scores.bestIndex], probability: scores.probabilities[scores.bestIndex]),
            visualTokens: prepared.tokens.count { $0 == model.imageTokenID }, promptTokens: prepared.tokens.count,
            generatedTokens: 0)
    }

    private func decode(_ tokens: [Int32]) -> String {
        checkpoint.tokenizer.tokenizer.decode(tokens, skipSpecialTokens: true)
    }
}

/// The model as one Classify job sees it: every call refuses to start once the job's deadline has passed, so label
/// scoring stops between decode steps (`LabelScorer` has no stop hook of its own; the refusal travels as a model
/// error that `ModelEngine.run` recognises and replaces by `timeLimitError`). Generation checks deadlines itself.
private struct DeadlineBoundModel: VisionLanguageModel {
    /// The error thrown past the deadline.
    static let expired = ModelError.invalidInput(reason: "the item's time limit ran out")

    let base: any VisionLanguageModel
    let deadline: ContinuousClock.Instant?

    var modelType: String { base.modelType }
    var vocabularySize: Int { base.vocabularySize }
    var imageTokenID: Int32 { base.imageTokenID }

    private func check() throws(ModelError) {
        if let deadline, ContinuousClock.now >= deadline { throw Self.expired }
    }

    func encodeImages(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> VisualFeatures {
        try check()
        return try base.encodeImages(images, pool: pool)
    }

    func makeSequence() -> SequenceState { base.makeSequence() }

    func stateBytes(tokens: Int) -> Int { base.stateBytes(tokens: tokens) }

    func prefill(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: VisualFeatures, rows: Range<Int>,
        sequence: inout SequenceState, pool: ComputePool
    ) throws(ModelError) -> [Float] {
        try check()
        return try base.prefill(
            tokens, grids: grids, imageFeatures: imageFeatures, rows: rows, sequence: &sequence, pool: pool)
    }

    func decode(_ tokens: [Int32], sequences: inout [SequenceState], pool: ComputePool) throws(ModelError) -> [Float] {
        try check()
        return try base.decode(tokens, sequences: &sequences, pool: pool)
    }
}
