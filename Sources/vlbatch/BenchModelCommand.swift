import ArgumentParser
import Foundation
import VLCore
import VLEngine
import VLImage
import VLModels
import VLPipeline
import VLTokenizer

#if canImport(Glibc)
    import Glibc
#endif

/// `vlbatch bench model`: the figures a batch job is judged by, on one checkpoint.
struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Time a model: vision encode, prefill, decode at batch 1 and N, and a captioning job.",
        discussion: """
            Uses a 448x448 image (a synthetic gradient unless --image is given) and the prompt "Describe this \
            image." in the checkpoint's chat format. Decoding generates --tokens tokens per item whatever they are \
            (no stop tokens), greedily. The job figure runs 2 x --batch captions through the continuous-batching \
            generator, as `vlbatch run` does. Peak RSS is the process's.
            """)

    @Option(help: "A model directory.")
    var model: String

    @Option(help: "Weight format of the text decoder: bf16, f16, q8 or q4.")
    var weights: WeightFormat = .bf16

    @Option(help: "Sequences decoded together for the batch-N figures (1-\(BatchGenerator.maxBatch)).")
    var batch: Int = 4

    @Option(help: "Tokens generated per item.")
    var tokens: Int = 32

    @Option(help: "An image to use instead of the synthetic 448x448 one.")
    var image: String?

    @Option(help: "Compute threads (default: one per core).")
    var threads: Int?

    @OptionGroup var passes: BenchPasses

    func validate() throws {
        if !(1...BatchGenerator.maxBatch).contains(batch) {
            throw ValidationError("--batch must be between 1 and \(BatchGenerator.maxBatch)")
        }
        if tokens < 2 { throw ValidationError("--tokens must be at least 2") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: model)
        let pool = ComputePool(threadCount: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let loaded = try ModelRegistry.load(directory: directory, weights: weights)
        let (prompt, patches) = try makePrompt(directory: directory)
        print(
            "model \(loaded.modelType), weights \(weights), \(pool.threadCount) threads, isa \(InstructionSet.active)")
        print("prompt \(prompt.count) tokens (\(patches.imageTokenCount) visual), \(tokens) new tokens per item")

        var features = VisualFeatures(merged: [], deepstack: [])
        let vision = try bestTime { features = try loaded.encodeImages([patches], pool: pool) }
        print(String(format: "vision encode      %8.3f s", vision))
        let prefill = try bestTime {
            var sequence = loaded.makeSequence()
            _ = try loaded.prefill(
                prompt, grids: [patches.grid], imageFeatures: features, sequence: &sequence, pool: pool)
        }
        print(String(format: "prefill            %8.1f tokens/s", Double(prompt.count) / prefill))

        func job(_ index: Int) -> GenerationJob {
            GenerationJob(
                request: GenerationRequest(tokens: prompt, images: [patches], maxNewTokens: tokens, stopTokens: []),
                sampling: .greedy, seed: SamplingSeed(run: 0, item: "bench-\(index)"))
        }
        for width in Set([1, batch]).sorted() {
            let results = BatchGenerator.run((0..<width).map(job), model: loaded, pool: pool, maxBatch: width)
            let timings = try results[0].get().timings
            let stepSeconds = timings.decodeSeconds / Double(max(timings.decodeSteps, 1))
            print(
                String(
                    format: "decode, batch %d    %8.2f tokens/s (%.1f ms per step, %.2f tokens/s per sequence)",
                    width, Double(width) / stepSeconds, stepSeconds * 1e3, 1 / stepSeconds))
        }
        let items = 2 * batch
        let start = ContinuousClock.now
        let outcomes = BatchGenerator.run((0..<items).map(job), model: loaded, pool: pool, maxBatch: batch)
        let elapsed = (ContinuousClock.now - start).seconds
        for outcome in outcomes { _ = try outcome.get() }
        print(
            String(
                format: "captioning job     %8.2f images/minute (%d images of %d tokens, batch %d, %.1f s)",
                Double(items) / elapsed * 60, items, tokens, batch, elapsed))
        try printMaskFigure(directory: directory, vocabularySize: loaded.vocabularySize)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "peak RSS           %8.2f GiB", Double(usage.ru_maxrss) * 1024 / Double(1 << 30)))
    }

    /// The cost of constrained JSON decoding per token: one mask over the whole vocabulary, inside a string value (the
    /// state where the most tokens are allowed and each is walked to its end).
    private func printMaskFigure(directory: URL, vocabularySize: Int) throws {
        let tokenizer = try Tokenizer.load(directory: directory)
        guard let stop = tokenizer.specialTokens[QwenSpecialToken.turnEnd] else { return }
        let vocabulary = JSONTokenConstraint.Vocabulary(tokenizer: tokenizer, size: vocabularySize)
        var constraint = JSONTokenConstraint(
            schema: JSONObjectSchema(fields: [.init(name: "vendor", type: .string)]), vocabulary: vocabulary,
            stopToken: stop)
        for byte in Array("{\"vendor\": \"Ac".utf8) {
            guard let token = (0..<vocabularySize).first(where: { vocabulary.bytesOf(Int32($0)) == [byte] }) else {
                return
            }
            constraint.advance(Int32(token))
        }
        var logits = [Float](repeating: 0, count: vocabularySize)
        let seconds = try bestTime { constraint.mask(&logits) }
        print(
            String(format: "JSON token mask    %8.2f ms per token (%d-token vocabulary)", seconds * 1e3, vocabularySize)
        )
    }

    /// The shortest of `passes.repeats` timed runs of `work`, in seconds.
    private func bestTime(_ work: () throws -> Void) throws -> Double {
        var shortest = Double.infinity
        for _ in 0..<passes.repeats {
            let start = ContinuousClock.now
            try work()
            shortest = min(shortest, (ContinuousClock.now - start).seconds)
        }
        return shortest
    }

    /// The chat prompt for the image, with its image expanded to its visual tokens, and the image's patches.
    private func makePrompt(directory: URL) throws -> ([Int32], ImagePatches) {
        var arguments = ["--prompt", "Describe this image."]
        if let image { arguments += ["--image", image] }
        let options = try ChatPromptOptions.parse(arguments)
        if image != nil {
            let prepared = try options.prepare(directory: directory)
            return (prepared.tokens, prepared.images[0])
        }
        // A smooth gradient with some structure: the content does not change the cost.
        let side = 448
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                let base = (y * side + x) * 3
                pixels[base] = UInt8(x * 255 / side)
                pixels[base + 1] = UInt8(y * 255 / side)
                pixels[base + 2] = UInt8((x ^ y) & 255)
            }
        }
        let processor = try options.budget.makeProcessor(directory: directory.path)
        let patches = try processor.preprocess(
            RGBImage(width: side, height: side, pixels: pixels), source: "synthetic 448x448")
        let format = try ModelType.chatFormat(directory: directory)
        let segments = try format.render([.user([.image, .text("Describe this image.")])])
        let tokenizer = try PromptTokenizer(tokenizer: Tokenizer.load(directory: directory))
        return (try tokenizer.tokenize(segments, imageTokenCounts: [patches.imageTokenCount]), patches)
    }
}
