import ArgumentParser
import Foundation
import VLCore
import VLEngine
import VLModels
import VLPipeline
import VLTokenizer

#if canImport(Glibc)
    import Glibc
#endif

extension WeightFormat: ExpressibleByArgument {}

/// `vlbatch generate`: one answer from a model for a prompt with images, streamed to standard output.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Answer one prompt (with images, or text only) with a local model.",
        discussion: """
            The answer is streamed to standard output as it is generated. Sampling follows the checkpoint's \
            generation_config.json (as transformers' generate() does) unless --greedy or the sampling flags say \
            otherwise. --json prints one object instead: the text, the generated token ids, the prompt and visual \
            token counts and the timings.
            """)

    @Option(help: "A model directory, or a Hugging Face repository id found in the local cache.")
    var model: String

    @OptionGroup var chat: ChatPromptOptions

    @Option(help: "The most tokens to generate (default: the checkpoint's max_new_tokens, else 512).")
    var maxTokens: Int?

    @Flag(help: "Take the most likely token at every step, with no repetition penalty.")
    var greedy = false

    @Option(help: "Sampling temperature (implies sampling).")
    var temperature: Double?

    @Option(help: "Keep the k most likely tokens when sampling (0: all).")
    var topK: Int?

    @Option(help: "Keep the most likely tokens up to this probability mass when sampling.")
    var topP: Double?

    @Option(help: "Drop tokens less likely than this fraction of the most likely one when sampling.")
    var minP: Double?

    @Option(help: "Penalise tokens already in the prompt or the answer (1: off).")
    var repetitionPenalty: Double?

    @Option(help: "The seed of the sampler's draws.")
    var seed: UInt64 = 0

    @Option(help: "Weight format of the text decoder: bf16, f16, q8 or q4 (quantized when loaded).")
    var weights: WeightFormat = .bf16

    @Option(help: "Compute threads (default: one per core).")
    var threads: Int?

    @Flag(help: "Print one JSON object with the answer, token ids, token counts and timings.")
    var json = false

    @Option(help: "Write the logits after the last prompt token to this .npy file (float32).")
    var dumpLogits: String?

    func validate() throws {
        if let maxTokens, maxTokens < 0 { throw ValidationError("--max-tokens must not be negative") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if greedy && (temperature != nil || topK != nil || topP != nil || minP != nil) {
            throw ValidationError("--greedy cannot be combined with sampling flags")
        }
    }

    func run() throws {
        let directory = try resolveModel()
        let prepared = try chat.prepare(directory: directory)
        let sampling = try samplingParameters(prepared.generation)
        let pool = ComputePool(threadCount: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let loadStart = ContinuousClock.now
        let loaded = try ModelRegistry.load(directory: directory, weights: weights)
        let loadSeconds = (ContinuousClock.now - loadStart).seconds
        let request = GenerationRequest(
            tokens: prepared.tokens, images: prepared.images,
            maxNewTokens: maxTokens ?? prepared.generation.maxNewTokens ?? 512, stopTokens: prepared.stopTokens)
        var detokenizer = StreamingDetokenizer(tokenizer: prepared.tokenizer.tokenizer, skipSpecialTokens: true)
        let output = FileHandle.standardOutput
        let job = GenerationJob(request: request, sampling: sampling, seed: SamplingSeed(run: seed, item: "generate"))
        let outcome = BatchGenerator.run([job], model: loaded, pool: pool, maxBatch: 1) { _, token in
            if !json { output.write(Data(detokenizer.append(token).utf8)) }
        }[0]
        let result = try outcome.get()
        if let dumpLogits {
            let bytes = NumpyArrayFile.encode(float32: result.promptLogits, shape: [result.promptLogits.count])
            try Data(bytes).write(to: URL(fileURLWithPath: dumpLogits))
        }
        if json {
            let text = prepared.tokenizer.tokenizer.decode(result.tokens, skipSpecialTokens: true)
            print(try JSONLine.encode(Report(result, text: text, model: loaded, weights: weights, load: loadSeconds)))
        } else {
            output.write(Data((detokenizer.finish() + "\n").utf8))
        }
    }

    /// The model directory: a path, or a repository id resolved in the Hugging Face cache.
    private func resolveModel() throws -> URL {
        switch try ModelLocation.resolve(model, environment: ProcessInfo.processInfo.environment) {
        case .directory(let url), .cached(_, _, let url): return url
        case .builtin(let name):
            throw ValidationError("builtin:\(name) is a pipeline test engine; generate needs a model checkpoint")
        }
    }

    /// The checkpoint's generation config with the command line's overrides; `--greedy` turns sampling and the
    /// repetition penalty off, any sampling flag turns sampling on.
    private func samplingParameters(_ generation: GenerationConfig) throws -> SamplingParameters {
        let sampleFlags = temperature != nil || topK != nil || topP != nil || minP != nil
        let overrides = SamplingOverrides(
            doSample: greedy ? false : (sampleFlags ? true : nil), temperature: temperature, topK: topK, topP: topP,
            minP: minP, repetitionPenalty: greedy ? 1 : repetitionPenalty, seed: seed)
        return try SamplingParameters(generationConfig: generation, overrides: overrides)
    }

    /// The `--json` object.
    private struct Report: Encodable {
        let text: String
        let tokenIds: [Int32]
        let finishReason: String
        let promptTokens: Int
        let visualTokens: Int
        let modelType: String
        let weights: String
        /// The process's peak resident memory so far (weights, caches, activations), from `getrusage`.
        let peakResidentBytes: Int
        let timings: Timings

        struct Timings: Encodable {
            let loadSeconds: Double
            let visionSeconds: Double
            let prefillSeconds: Double
            let prefillTokensPerSecond: Double
            let decodeSeconds: Double
            let decodeTokensPerSecond: Double
        }

        init(
            _ result: GenerationResult, text: String, model: any VisionLanguageModel, weights: WeightFormat,
            load: Double
        ) {
            self.text = text
            tokenIds = result.tokens
            finishReason = result.finishReason.rawValue
            promptTokens = result.promptTokens
            visualTokens = result.visualTokens
            modelType = model.modelType
            self.weights = weights.rawValue
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            peakResidentBytes = usage.ru_maxrss * 1024  // kilobytes on Linux
            let t = result.timings
            timings = Timings(
                loadSeconds: load, visionSeconds: t.visionSeconds, prefillSeconds: t.prefillSeconds,
                prefillTokensPerSecond: t.prefillTokensPerSecond(promptTokens: result.promptTokens),
                decodeSeconds: t.decodeSeconds, decodeTokensPerSecond: t.decodeTokensPerSecond)
        }
    }
}
