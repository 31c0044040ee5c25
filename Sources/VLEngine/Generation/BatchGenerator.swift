import Foundation
import VLCore
import VLModels

/// One job for `BatchGenerator`: a prompt, how to choose its tokens, and when it must be done.
public struct GenerationJob: Sendable {
    /// The prompt and its limits.
    public var request: GenerationRequest
    /// Greedy or sampled, with transformers' processors.
    public var sampling: SamplingParameters
    /// The job's own seed (`SamplingSeed(run:item:)`), so its draws depend on nothing else in the batch.
    public var seed: SamplingSeed
    /// When the job must stop (nil: no limit); checked before each model call that involves it.
    public var deadline: ContinuousClock.Instant?
    /// Constrained decoding: only tokens that keep the answer a valid JSON object of the schema (nil: free text).
    public var constraint: JSONTokenConstraint?

    /// A job.
    public init(
        request: GenerationRequest, sampling: SamplingParameters, seed: SamplingSeed,
        deadline: ContinuousClock.Instant? = nil, constraint: JSONTokenConstraint? = nil
    ) {
        self.request = request
        self.sampling = sampling
        self.seed = seed
        self.deadline = deadline
        self.constraint = constraint
    }
}

/// Why a job produced no result.
public enum GenerationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The model refused the job's input (bad image, prompt too long, ...).
    case model(ModelError)
    /// The job's deadline passed before it finished.
    case deadlinePassed

    /// What went wrong.
    public var description: String {
        switch self {
        case .model(let error): error.description
        case .deadlinePassed: "the item's time limit ran out"
        }
    }
}

/// Generates answers for a batch of jobs with continuous batching (`DecodeScheduler`): each job's images are encoded
/// and its prompt run on its own, in chunks (`defaultPrefillChunk` tokens) between the decode steps of the others (so a
/// long prompt cannot stall them), then all active jobs decode together, one token each per step, so a step reads
/// the weights once for all of them; a finished job's slot goes to the next waiting job at once.
///
/// The head of a prompt that every item of a pipeline shares — the system prompt and the chat template up to the
/// first image — runs once per run: the first job with that head computes it into a sequence state that later jobs
/// copy (`SharedPrefixes`), then each job runs the rest of its prompt. Where a prompt is split depends only on the
/// prompt itself (`sharedPrefixLength`), so every job, the first one included, computes exactly the same rows in the
/// same calls whatever else is in the batch.
///
/// Results do not depend on the batch size or on which jobs share a step: every row of a decode step is computed
/// independently (the matrix-vector kernels are batch-invariant, attention and recurrent state are per sequence), and
/// each job samples with its own seed. That holds up to `maxBatch` = `BatchGenerator.maxBatch` sequences per step,
/// the most the matrix-vector kernels take in one pass (more rows would switch the linear layers to the matrix
/// multiply, which sums in another order).
public enum BatchGenerator {
    /// The most sequences decoding together.
    public static let maxBatch = 8
    /// Prompt tokens run between two decode steps of the other jobs, by default.
    public static let defaultPrefillChunk = 256

    /// Runs `jobs` with at most `maxBatch` decoding at once and, with a `memoryBudget`, no more sequence state (KV
    /// caches at their longest, recurrent state) at once than that many bytes; `onToken(job, token)` sees every
    /// generated token as it is chosen. Returns one result per job, in order.
    public static func run(
        _ jobs: [GenerationJob], model: any VisionLanguageModel, pool: ComputePool, maxBatch: Int,
        memoryBudget: Int? = nil, prefillChunk chunk: Int = defaultPrefillChunk,
        onToken: (Int, Int32) -> Void = { _, _ in }
    ) -> [Result<GenerationResult, GenerationFailure>] {
        precondition(chunk >= 1, "prefill chunks hold at least one token")
        precondition(maxBatch >= 1 && maxBatch <= Self.maxBatch, "maxBatch must be in 1...\(Self.maxBatch)")
        let costs = jobs.map { model.stateBytes(tokens: $0.request.tokens.count + $0.request.maxNewTokens) }
        var scheduler = DecodeScheduler(costs: costs, maxActive: maxBatch, memoryBudget: memoryBudget)
        var states = jobs.map { JobState(job: $0, vocabulary: model.vocabularySize) }
        var sequences = [SequenceState?](repeating: nil, count: jobs.count)
        var prefixes = SharedPrefixes()
        /// Runs the next chunk of job `index`'s prompt (its shared head and images first, with the first chunk); once
        /// the prompt is done, chooses its first token. Returns false when the job has finished or failed.
        func prefillChunk(_ index: Int) -> Bool {
            do {
                var sequence: SequenceState
                if let started = sequences[index] {
                    sequence = started
                } else {
                    let head = Self.sharedPrefixLength(states[index].job.request, imageToken: model.imageTokenID)
                    let clock = ContinuousClock.now
                    let tokens = states[index].job.request.tokens[..<head]
                    sequence = try prefixes.state(for: tokens, model: model, pool: pool)
                    states[index].timings.prefillSeconds += (ContinuousClock.now - clock).seconds
                    states[index].prefilled = head
                }
                sequences[index] = nil
                let logits = try states[index].prefillChunk(model: model, sequence: &sequence, chunk: chunk, pool: pool)
                sequences[index] = sequence
                guard let logits else { return true }
                if states[index].choose(from: logits, onToken: { onToken(index, $0) }) {
                    sequences[index] = nil
                    return false
                }
                return true
            } catch {
                states[index].outcome = .failure(.model(error))
                sequences[index] = nil
                return false
            }
        }
        while let step = scheduler.next() {
            switch step {
            case .prefill(let index):
                guard states[index].checkDeadline(), prefillChunk(index) else {
                    scheduler.finish(index)
                    continue
                }
            case .decode(let active):
                for index in active where !states[index].checkDeadline() {
                    scheduler.finish(index)
                    sequences[index] = nil
                }
                let live = active.filter { states[$0].outcome == nil }
                // One chunk of the oldest unfinished prompt, then one step for every job that is decoding.
                if let index = live.first(where: { !states[$0].isPrefilled }), !prefillChunk(index) {
                    scheduler.finish(index)
                }
                let ready = live.filter { states[$0].isPrefilled && states[$0].outcome == nil }
                guard !ready.isEmpty else { continue }
                // Move the states out so each cache has one owner and grows in place.
                var batch = ready.map { index in
                    defer { sequences[index] = nil }
                    return sequences[index]!
                }
                let start = ContinuousClock.now
                let tokens = ready.map { states[$0].pending! }
                do {
                    let logits = try model.decode(tokens, sequences: &batch, pool: pool)
                    let seconds = (ContinuousClock.now - start).seconds
                    let width = model.vocabularySize
                    for (row, index) in ready.enumerated() {
                        sequences[index] = batch[row]
                        states[index].timings.decodeSeconds += seconds
                        states[index].timings.decodeSteps += 1
                        let rowLogits = Array(logits[(row * width)..<((row + 1) * width)])
                        if states[index].choose(from: rowLogits, onToken: { onToken(index, $0) }) {
                            scheduler.finish(index)
                            sequences[index] = nil
                        }
                    }
                } catch {
                    for index in ready {
                        states[index].outcome = .failure(.model(error))
                        scheduler.finish(index)
                    }
                }
            }
        }
        return states.map { $0.outcome ?? .failure(.deadlinePassed) }
    }

    /// How many of `request`'s first tokens are a head shared with other prompts of the same template: the tokens
    /// before its first image (the system prompt, the template's opening, `<|vision_start|>`), or none for a prompt
    /// without images, whose item text can follow the template's opening at once.
    public static func sharedPrefixLength(_ request: GenerationRequest, imageToken: Int32) -> Int {
        request.tokens.firstIndex(of: imageToken) ?? 0
    }

    /// Sequence states after prompt heads, computed once and copied by every job that starts with the same head
    /// (a copy shares the cached keys and values until it appends its own). Holds the few most recent heads.
    private struct SharedPrefixes {
        static let capacity = 4
        private var entries: [(tokens: ArraySlice<Int32>, state: SequenceState)] = []

        /// A sequence holding `head` (empty: a new sequence), computed now unless a job already did.
        mutating func state(for head: ArraySlice<Int32>, model: any VisionLanguageModel, pool: ComputePool)
            throws(ModelError) -> SequenceState
        {
            guard !head.isEmpty else { return model.makeSequence() }
            if let entry = entries.first(where: { $0.tokens == head }) { return entry.state }
            var sequence = model.makeSequence()
            _ = try model.prefill(
                Array(head), grids: [], imageFeatures: VisualFeatures(merged: [], deepstack: []),
                sequence: &sequence, pool: pool)
            if entries.count == Self.capacity { entries.removeFirst() }
            entries.append((head, sequence))
            return sequence
        }
    }

    /// One job's progress.
    private struct JobState {
        let job: GenerationJob
        var sampler: Sampler
        var seen: SeenTokens
        var generated: [Int32] = []
        /// The token chosen last, to be fed at the next decode step.
        var pending: Int32?
        var promptLogits: [Float] = []
        var timings = GenerationTimings()
        var outcome: Result<GenerationResult, GenerationFailure>?
        let visualTokens: Int
        /// The image features, once encoded.
        var features: VisualFeatures?
        /// Prompt tokens run so far.
        var prefilled = 0

        /// Whether the whole prompt has run.
        var isPrefilled: Bool { prefilled == job.request.tokens.count }
        var constraint: JSONTokenConstraint?

        init(job: GenerationJob, vocabulary: Int) {
            self.job = job
            constraint = job.constraint
            sampler = Sampler(parameters: job.sampling, vocabularySize: vocabulary)
            seen = SeenTokens(vocabularySize: vocabulary, tokens: job.request.tokens)
            visualTokens = job.request.images.reduce(0) { $0 + $1.imageTokenCount }
        }

        /// False (and the outcome set) once the deadline has passed.
        mutating func checkDeadline() -> Bool {
            if let deadline = job.deadline, ContinuousClock.now >= deadline {
                outcome = .failure(.deadlinePassed)
                return false
            }
            return true
        }

        /// Encodes the images (first call) and runs the next chunk of the prompt; returns the logits after the
        /// prompt once its last chunk has run, nil before.
        mutating func prefillChunk(
            model: any VisionLanguageModel, sequence: inout SequenceState, chunk: Int, pool: ComputePool
        ) throws(ModelError) -> [Float]? {
            let request = job.request
            guard !request.tokens.isEmpty else { throw .invalidInput(reason: "the prompt has no tokens") }
            if features == nil {
                let clock = ContinuousClock.now
                features =
                    request.images.isEmpty
                    ? VisualFeatures(merged: [], deepstack: []) : try model.encodeImages(request.images, pool: pool)
                timings.visionSeconds = (ContinuousClock.now - clock).seconds
            }
            let clock = ContinuousClock.now
            let rows = prefilled..<min(request.tokens.count, prefilled + chunk)
            let logits = try model.prefill(
                request.tokens, grids: request.images.map(\.grid), imageFeatures: features!, rows: rows,
                sequence: &sequence, pool: pool)
            timings.prefillSeconds += (ContinuousClock.now - clock).seconds
            prefilled = rows.upperBound
            guard isPrefilled else { return nil }
            features = nil
            promptLogits = logits
            return logits
        }

        /// Chooses the next token from `logits`; returns true when the job is finished (stop token or token limit),
        /// with its outcome set.
        mutating func choose(from logits: [Float], onToken: (Int32) -> Void) -> Bool {
            guard generated.count < job.request.maxNewTokens else { return finish(stopToken: nil) }
            var row = logits
            constraint?.mask(&row)
            let token = sampler.next(&row, seen: seen, seed: job.seed, step: generated.count)
            constraint?.advance(token)
            if job.request.stopTokens.contains(token) { return finish(stopToken: token) }
            generated.append(token)
            seen.insert(token)
            onToken(token)
            guard generated.count < job.request.maxNewTokens else { return finish(stopToken: nil) }
            pending = token
            return false
        }

        private mutating func finish(stopToken: Int32?) -> Bool {
            outcome = .success(
                GenerationResult(
                    tokens: generated, stopToken: stopToken, finishReason: stopToken == nil ? .length : .stop,
                    promptTokens: job.request.tokens.count, visualTokens: visualTokens, promptLogits: promptLogits,
                    timings: timings))
            return true
        }
    }
}

extension Duration {
    /// The duration in seconds.
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
