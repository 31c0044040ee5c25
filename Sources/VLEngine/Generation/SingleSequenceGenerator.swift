import Foundation
import VLCore
import VLModels

/// Why generation ended.
public enum FinishReason: String, Sendable, Codable {
    /// The model produced a stop token.
    case stop
    /// `maxNewTokens` tokens were generated.
    case length
}

/// Wall-clock time spent in each phase of one generation.
public struct GenerationTimings: Sendable, Equatable, Codable {
    /// Seconds in the vision tower.
    public var visionSeconds: Double = 0
    /// Seconds running the prompt through the decoder (up to the first token's logits).
    public var prefillSeconds: Double = 0
    /// Seconds in decode steps (every token after the first).
    public var decodeSeconds: Double = 0
    /// Decode steps run.
    public var decodeSteps: Int = 0

    /// Prompt tokens per second of prefill.
    public func prefillTokensPerSecond(promptTokens: Int) -> Double {
        prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0
    }

    /// Tokens per second of decoding.
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(decodeSteps) / decodeSeconds : 0 }
}

/// One prompt to answer.
public struct GenerationRequest: Sendable {
    /// The prompt's token ids, each image expanded to its visual tokens.
    public var tokens: [Int32]
    /// The preprocessed images, in prompt order.
    public var images: [ImagePatches]
    /// The most tokens to generate.
    public var maxNewTokens: Int
    /// Tokens that end the answer (not part of it).
    public var stopTokens: Set<Int32>

    /// A request.
    public init(tokens: [Int32], images: [ImagePatches], maxNewTokens: Int, stopTokens: Set<Int32>) {
        self.tokens = tokens
        self.images = images
        self.maxNewTokens = maxNewTokens
        self.stopTokens = stopTokens
    }
}

/// The answer to one request.
public struct GenerationResult: Sendable {
    /// Generated tokens, without the stop token.
    public var tokens: [Int32]
    /// The stop token that ended generation, if one did.
    public var stopToken: Int32?
    /// Why generation ended.
    public var finishReason: FinishReason
    /// Prompt tokens, visual tokens included.
    public var promptTokens: Int
    /// Visual tokens in the prompt.
    public var visualTokens: Int
    /// The logits after the last prompt token (what chose the first generated token).
    public var promptLogits: [Float]
    /// Time per phase.
    public var timings: GenerationTimings
}

/// The plain loop for one sequence: encode the images, prefill, then decode until a stop token or the token limit.
/// `vlbatch generate` uses it; the batch scheduler runs the same model calls for many sequences at once.
public enum SingleSequenceGenerator {
    /// Answers `request` with `model`, choosing tokens with `sampler` (draws seeded by `seed`), and calls `onToken`
    /// for each generated token as it is chosen.
    public static func run(
        _ request: GenerationRequest, model: any VisionLanguageModel, pool: ComputePool, sampler: Sampler,
        seed: SamplingSeed, onToken: (Int32) -> Void = { _ in }
    ) throws(ModelError) -> GenerationResult {
        var sampler = sampler
        var timings = GenerationTimings()
        var clock = ContinuousClock.now
        func lap() -> Double {
            let now = ContinuousClock.now
            defer { clock = now }
            let elapsed = now - clock
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        let features =
            request.images.isEmpty
            ? VisualFeatures(merged: [], deepstack: []) : try model.encodeImages(request.images, pool: pool)
        timings.visionSeconds = lap()
        // One array for the whole loop, so the caches are never shared and grow in place.
        var sequences = [model.makeSequence()]
        var logits = try model.prefill(
            request.tokens, grids: request.images.map(\.grid), imageFeatures: features, sequence: &sequences[0],
            pool: pool)
        let promptLogits = logits
        // The repetition penalty counts the prompt, image tokens included, as transformers does.
        var seen = SeenTokens(vocabularySize: model.vocabularySize, tokens: request.tokens)
        var generated: [Int32] = []
        var stopToken: Int32?
        timings.prefillSeconds = lap()
        while generated.count < request.maxNewTokens {
            let token = sampler.next(&logits, seen: seen, seed: seed, step: generated.count)
            if request.stopTokens.contains(token) {
                stopToken = token
                break
            }
            generated.append(token)
            seen.insert(token)
            onToken(token)
            guard generated.count < request.maxNewTokens else { break }
            logits = try model.decode([token], sequences: &sequences, pool: pool)
            timings.decodeSteps += 1
        }
        timings.decodeSeconds = lap()
        return GenerationResult(
            tokens: generated, stopToken: stopToken, finishReason: stopToken == nil ? .length : .stop,
            promptTokens: request.tokens.count,
            visualTokens: request.tokens.filter { $0 == model.imageTokenID }.count, promptLogits: promptLogits,
            timings: timings)
    }
}
