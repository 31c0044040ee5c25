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
