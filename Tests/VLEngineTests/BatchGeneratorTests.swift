import Foundation
import Testing
import VLCore
import VLEngine
import VLImage
import VLModels
import VLTokenizer

@Suite("Decode scheduler (continuous batching)")
struct DecodeSchedulerTests {
    @Test("admits in order up to the slot count, decodes the active jobs together, refills freed slots")
    func schedule() {
        var scheduler = DecodeScheduler(jobs: 5, maxActive: 2)
        #expect(scheduler.next() == .prefill(0))
        #expect(scheduler.next() == .prefill(1))
        #expect(scheduler.next() == .decode([0, 1]))
        #expect(scheduler.next() == .decode([0, 1]))
        scheduler.finish(0)
        #expect(scheduler.next() == .prefill(2))
        #expect(scheduler.next() == .decode([1, 2]))
        scheduler.finish(1)
        scheduler.finish(2)
        #expect(scheduler.next() == .prefill(3))
        scheduler.finish(3)  // done at its prefill (a stop token first)
        #expect(scheduler.next() == .prefill(4))
        #expect(scheduler.next() == .decode([4]))
        scheduler.finish(4)
        #expect(scheduler.next() == nil && scheduler.isDone)
    }

    @Test("never more active jobs than slots; every job is prefilled exactly once", arguments: [1, 3, 8])
    func invariants(slots: Int) {
        var scheduler = DecodeScheduler(jobs: 20, maxActive: slots)
        var prefilled: [Int] = []
        var steps = 0
        var generated = [Int](repeating: 0, count: 20)
        while let step = scheduler.next() {
            steps += 1
            #expect(scheduler.active.count <= slots)
            switch step {
            case .prefill(let job): prefilled.append(job)
            case .decode(let jobs):
                for job in jobs {
                    generated[job] += 1
                    // Job j wants j % 5 + 1 tokens.
                    if generated[job] == job % 5 + 1 { scheduler.finish(job) }
                }
            }
        }
        #expect(prefilled == Array(0..<20))
        #expect(generated == (0..<20).map { $0 % 5 + 1 })
        #expect(steps < 200)
    }
}

/// Batch invariance on real checkpoints: the same jobs give the same tokens and prompt logits, bit for bit, whatever
/// the batch size, the thread count or the jobs they share steps with.
@Suite("Batch generator")
struct BatchGeneratorTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func jobs(_ model: String) throws -> (any VisionLanguageModel, [GenerationJob]) {
        let directory = repositoryRoot.appendingPathComponent(model)
        let loaded = try ModelRegistry.load(directory: directory, weights: .bf16)
        let tokenizer = try PromptTokenizer(tokenizer: Tokenizer.load(directory: directory))
        let format = try ModelType.chatFormat(directory: directory)
        let questions = [
            "Hi", "What kind of document is this?", "Describe this image in one sentence.", "Name three colours.",
            "Is this a receipt or an invoice? Answer in one word.", "Count the shapes.", "Say something long.",
        ]
        var jobs: [GenerationJob] = []
        for (index, question) in questions.enumerated() {
            let tokens = try tokenizer.tokenize(format.render([.user([.text(question)])]), imageTokenCounts: [])
            let sampling =
                index % 2 == 0
                ? SamplingParameters.greedy
                : try SamplingParameters(doSample: true, temperature: 1.3, topK: 40, topP: 0.95, seed: 7)
            jobs.append(
                GenerationJob(
                    request: GenerationRequest(
                        tokens: tokens, images: [], maxNewTokens: 3 + index * 2, stopTokens: [770]),
                    sampling: sampling, seed: SamplingSeed(run: 7, item: "item-\(index)")))
        }
        return (loaded, jobs)
    }

    static func tokens(_ results: [Result<GenerationResult, GenerationFailure>]) -> [[Int32]] {
        results.map { (try? $0.get().tokens) ?? [-1] }
    }

    @Test(
        "the same tokens at batch 1, 3 and 8 and on 1 or 2 threads",
        arguments: ["Tests/Fixtures/models/qwen2-vl-tiny", "Tests/Fixtures/models/qwen3.5-tiny"])
    func batchInvariant(model: String) throws {
        let (loaded, jobs) = try Self.jobs(model)
        let reference = BatchGenerator.run(jobs, model: loaded, pool: ComputePool(threadCount: 1), maxBatch: 1)
        let expected = Self.tokens(reference)
        #expect(expected.allSatisfy { $0 != [-1] })
        for (batch, threads) in [(3, 1), (8, 1), (8, 2), (1, 2)] {
            let results = BatchGenerator.run(
                jobs, model: loaded, pool: ComputePool(threadCount: threads), maxBatch: batch)
            #expect(Self.tokens(results) == expected, "batch \(batch), \(threads) threads")
            for (a, b) in zip(results, reference) {
                #expect((try? a.get().promptLogits) == (try? b.get().promptLogits))
            }
        }
        // A job's answer does not depend on its neighbours either: alone, or behind others in reverse order.
        let alone = BatchGenerator.run([jobs[3]], model: loaded, pool: ComputePool(threadCount: 2), maxBatch: 1)
        #expect(Self.tokens(alone) == [expected[3]])
        let reversed = BatchGenerator.run(
            jobs.reversed(), model: loaded, pool: ComputePool(threadCount: 2), maxBatch: 4)
        #expect(Self.tokens(reversed) == expected.reversed())
    }

    @Test("token limits, stop tokens and deadlines")
    func limits() throws {
        let (loaded, jobs) = try Self.jobs("Tests/Fixtures/models/qwen2-vl-tiny")
        var limited = jobs[0]
        limited.request.maxNewTokens = 0
        var expired = jobs[1]
        expired.deadline = .now - .seconds(1)
        var stopping = jobs[2]
        let free = BatchGenerator.run([stopping], model: loaded, pool: ComputePool(threadCount: 1), maxBatch: 1)
        let firstToken = try #require(try free[0].get().tokens.first)
        stopping.request.stopTokens = [firstToken]
        let results = BatchGenerator.run(
            [limited, expired, stopping, jobs[3]], model: loaded, pool: ComputePool(threadCount: 1), maxBatch: 4)
        #expect(try results[0].get().tokens == [] && results[0].get().finishReason == .length)
        #expect(throws: GenerationFailure.deadlinePassed) { try results[1].get() }
        #expect(try results[2].get().tokens == [] && results[2].get().stopToken == firstToken)
        #expect(try results[3].get().tokens.count == jobs[3].request.maxNewTokens)
    }
}

@Suite("Decode scheduler memory budget")
struct DecodeSchedulerBudgetTests {
    @Test("a job is admitted only when its state fits beside the active ones; an oversized job runs alone")
    func budget() {
        var scheduler = DecodeScheduler(costs: [40, 50, 30, 200, 10], maxActive: 4, memoryBudget: 100)
        #expect(scheduler.next() == .prefill(0))
        #expect(scheduler.next() == .prefill(1))
        #expect(scheduler.next() == .decode([0, 1]))  // 40 + 50 + 30 > 100: job 2 waits
        scheduler.finish(0)
        #expect(scheduler.next() == .prefill(2))
        #expect(scheduler.next() == .decode([1, 2]))  // job 3 (200) waits for an empty engine
        scheduler.finish(1)
        scheduler.finish(2)
        #expect(scheduler.next() == .prefill(3))
        #expect(scheduler.next() == .decode([3]))  // alone, although over the budget; job 4 waits behind it
        scheduler.finish(3)
        #expect(scheduler.next() == .prefill(4))
        scheduler.finish(4)
        #expect(scheduler.next() == nil)
    }

    @Test("the generator's results do not depend on the budget")
    func resultsIgnoreBudget() throws {
        let (loaded, jobs) = try BatchGeneratorTests.jobs("Tests/Fixtures/models/qwen3.5-tiny")
        let free = BatchGenerator.run(jobs, model: loaded, pool: ComputePool(threadCount: 2), maxBatch: 8)
        let tight = BatchGenerator.run(
            jobs, model: loaded, pool: ComputePool(threadCount: 2), maxBatch: 8,
            memoryBudget: loaded.stateBytes(tokens: 40))
        #expect(BatchGeneratorTests.tokens(tight) == BatchGeneratorTests.tokens(free))
        #expect(loaded.stateBytes(tokens: 10) > loaded.stateBytes(tokens: 0))
    }
}

@Suite("Chunked prefill")
struct ChunkedPrefillTests {
    @Test(
        "prompts run in small chunks between other jobs' decode steps give the same answers",
        arguments: ["Tests/Fixtures/models/qwen2-vl-tiny", "Tests/Fixtures/models/qwen3.5-tiny"])
    func chunkedEqualsWhole(model: String) throws {
        let (loaded, jobs) = try BatchGeneratorTests.jobs(model)
        let pool = ComputePool(threadCount: 2)
        let whole = BatchGenerator.run(jobs, model: loaded, pool: pool, maxBatch: 4)
        // Chunks of 5 and 9 tokens: most prompts take several, and the last chunk of many is short.
        for chunk in [5, 9] {
            let chunked = BatchGenerator.run(jobs, model: loaded, pool: pool, maxBatch: 4, prefillChunk: chunk)
            #expect(BatchGeneratorTests.tokens(chunked) == BatchGeneratorTests.tokens(whole), "chunk \(chunk)")
            for (a, b) in zip(chunked, whole) {
                let (x, y) = (try a.get().promptLogits, try b.get().promptLogits)
                let scale = y.map(abs).max() ?? 1
                #expect(zip(x, y).map { abs($0 - $1) }.max()! / scale < 1e-5)
            }
        }
    }
}

extension ChunkedPrefillTests {
    @Test(
        "chunks that split image-token runs (and Qwen3-VL's DeepStack rows) give the same answers",
        arguments: ["qwen2-vl-tiny", "qwen3-vl-tiny", "qwen3.5-tiny"])
    func chunksThroughImages(model: String) throws {
        let directory = BatchGeneratorTests.repositoryRoot.appendingPathComponent("Tests/Fixtures/models/\(model)")
        let loaded = try ModelRegistry.load(directory: directory, weights: .bf16)
        let processor = QwenImageProcessor(config: try ImageProcessorConfig.load(directory: directory))
        let images = try ["odd-84x140.png", "windows-168x140.png"].map { name in
            let path = BatchGeneratorTests.repositoryRoot.appendingPathComponent("Tests/Fixtures/models/images/\(name)")
            return try processor.preprocess(ImageDecoder.decode(fileAt: path.path).image, source: name)
        }
        let tokenizer = try PromptTokenizer(tokenizer: Tokenizer.load(directory: directory))
        let segments = try ModelType.chatFormat(directory: directory).render([
            .user([.image, .image, .text("What differs?")])
        ])
        let prompt = try tokenizer.tokenize(segments, imageTokenCounts: images.map(\.imageTokenCount))
        let job = GenerationJob(
            request: GenerationRequest(tokens: prompt, images: images, maxNewTokens: 4, stopTokens: []),
            sampling: .greedy, seed: SamplingSeed(run: 0, item: "x"))
        let pool = ComputePool(threadCount: 2)
        let whole = try BatchGenerator.run([job], model: loaded, pool: pool, maxBatch: 1)[0].get()
        let chunked = try BatchGenerator.run([job], model: loaded, pool: pool, maxBatch: 1, prefillChunk: 7)[0].get()
        #expect(chunked.tokens == whole.tokens)
        let scale = whole.promptLogits.map(abs).max() ?? 1
        #expect(zip(chunked.promptLogits, whole.promptLogits).map { abs($0 - $1) }.max()! / scale < 1e-5)
    }
}

/// A model that counts the prompt rows it runs and otherwise is `base`.
private struct RowCountingModel: VisionLanguageModel {
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var rows = 0
        func add(_ count: Int) { lock.withLock { rows += count } }
        var value: Int { lock.withLock { rows } }
    }

    let base: any VisionLanguageModel
    let prefilledRows = Counter()

    var modelType: String { base.modelType }
    var vocabularySize: Int { base.vocabularySize }
    var imageTokenID: Int32 { base.imageTokenID }
    func encodeImages(_ images: [ImagePatches], pool: ComputePool) throws(ModelError) -> VisualFeatures {
        try base.encodeImages(images, pool: pool)
    }
    func makeSequence() -> SequenceState { base.makeSequence() }
    func stateBytes(tokens: Int) -> Int { base.stateBytes(tokens: tokens) }
    func prefill(
        _ tokens: [Int32], grids: [PatchGrid], imageFeatures: VisualFeatures, rows: Range<Int>,
        sequence: inout SequenceState, pool: ComputePool
    ) throws(ModelError) -> [Float] {
        prefilledRows.add(rows.count)
        return try base.prefill(
            tokens, grids: grids, imageFeatures: imageFeatures, rows: rows, sequence: &sequence, pool: pool)
    }
    func decode(_ tokens: [Int32], sequences: inout [SequenceState], pool: ComputePool) throws(ModelError) -> [Float] {
        try base.decode(tokens, sequences: &sequences, pool: pool)
    }
}

@Suite("Shared prompt heads")
struct SharedPrefixTests {
    @Test(
        "the head before the first image runs once per run; answers equal each job run alone and the whole prompt",
        arguments: ["qwen2-vl-tiny", "qwen3.5-tiny"])
    func headRunsOnce(model: String) throws {
        let directory = BatchGeneratorTests.repositoryRoot.appendingPathComponent("Tests/Fixtures/models/\(model)")
        let base = try ModelRegistry.load(directory: directory, weights: .bf16)
        let processor = QwenImageProcessor(config: try ImageProcessorConfig.load(directory: directory))
        let tokenizer = try PromptTokenizer(tokenizer: Tokenizer.load(directory: directory))
        let format = try ModelType.chatFormat(directory: directory)
        var jobs: [GenerationJob] = []
        for (index, name) in ["odd-84x140.png", "windows-168x140.png", "odd-84x140.png"].enumerated() {
            let path = BatchGeneratorTests.repositoryRoot.appendingPathComponent("Tests/Fixtures/models/images/\(name)")
            let image = try processor.preprocess(ImageDecoder.decode(fileAt: path.path).image, source: name)
            let segments = try format.render([
                .system("You are a careful assistant who answers in one short sentence."),
                .user([.image, .text(index == 2 ? "What colour is it?" : "Describe it.")]),
            ])
            let tokens = try tokenizer.tokenize(segments, imageTokenCounts: [image.imageTokenCount])
            jobs.append(
                GenerationJob(
                    request: GenerationRequest(tokens: tokens, images: [image], maxNewTokens: 4, stopTokens: []),
                    sampling: .greedy, seed: SamplingSeed(run: 0, item: "\(index)")))
        }
        let head = BatchGenerator.sharedPrefixLength(jobs[0].request, imageToken: base.imageTokenID)
        let shared = jobs[0].request.tokens.prefix(head)
        #expect(head > 10 && jobs.allSatisfy { $0.request.tokens.prefix(head) == shared })
        let pool = ComputePool(threadCount: 2)
        let counting = RowCountingModel(base: base)
        let together = BatchGenerator.run(jobs, model: counting, pool: pool, maxBatch: 3)
        let promptRows = jobs.reduce(0) { $0 + $1.request.tokens.count }
        #expect(counting.prefilledRows.value == promptRows - 2 * head)
        for (index, job) in jobs.enumerated() {
            let alone = try BatchGenerator.run([job], model: base, pool: pool, maxBatch: 1)[0].get()
            let result = try together[index].get()
            #expect(result.tokens == alone.tokens && result.promptLogits == alone.promptLogits, "job \(index)")
            // The head run apart changes only the order of some sums: the whole prompt in one pass agrees.
            var sequence = base.makeSequence()
            let whole = try base.prefill(
                job.request.tokens, grids: job.request.images.map(\.grid),
                imageFeatures: base.encodeImages(job.request.images, pool: pool), sequence: &sequence, pool: pool)
            let scale = whole.map(abs).max() ?? 1
            #expect(zip(result.promptLogits, whole).map { abs($0 - $1) }.max()! / scale < 1e-5, "job \(index)")
        }
    }
}
