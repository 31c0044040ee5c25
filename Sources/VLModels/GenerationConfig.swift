import Foundation

/// The fields of a checkpoint's `generation_config.json` that decide how generation stops and samples.
///
/// transformers' `generate()` applies this file silently (Qwen2-VL's sets `repetition_penalty` 1.05, Qwen3-VL's
/// `temperature` 0.7, `top_k` 20, `top_p` 0.8), so vlbatch reads it too and shows what it applies. Every field is
/// optional: a missing file or key means the library default.
public struct GenerationConfig: Sendable, Equatable, Decodable {
    /// Token ids that end generation (`eos_token_id`, a number or a list in the file).
    public var eosTokenIDs: [Int32]
    /// `pad_token_id`.
    public var padTokenID: Int32?
    /// `bos_token_id`.
    public var bosTokenID: Int32?
    /// `do_sample`: sample rather than take the most likely token.
    public var doSample: Bool?
    /// `temperature`.
    public var temperature: Double?
    /// `top_k`.
    public var topK: Int?
    /// `top_p`.
    public var topP: Double?
    /// `repetition_penalty`.
    public var repetitionPenalty: Double?
    /// `max_new_tokens`.
    public var maxNewTokens: Int?

    /// A config with nothing set.
    public init() { eosTokenIDs = [] }

    /// Reads `generation_config.json` from a model directory; a directory without one gives an empty config.
    public static func load(directory: URL) throws(ModelError) -> GenerationConfig {
        let file = directory.appendingPathComponent("generation_config.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return GenerationConfig() }
        do {
            return try JSONDecoder().decode(GenerationConfig.self, from: Data(contentsOf: file))
        } catch {
            throw .unreadableJSON(path: file.path, reason: String(describing: error))
        }
    }

    private enum CodingKeys: String, CodingKey {
        case eosTokenID = "eos_token_id"
        case padTokenID = "pad_token_id"
        case bosTokenID = "bos_token_id"
        case doSample = "do_sample"
        case temperature
        case topK = "top_k"
        case topP = "top_p"
        case repetitionPenalty = "repetition_penalty"
        case maxNewTokens = "max_new_tokens"
    }

    /// Decodes the file's JSON; `eos_token_id` may be a single id or a list.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let single = try? container.decodeIfPresent(Int32.self, forKey: .eosTokenID) {
            eosTokenIDs = [single]
        } else {
            eosTokenIDs = try container.decodeIfPresent([Int32].self, forKey: .eosTokenID) ?? []
        }
        padTokenID = try container.decodeIfPresent(Int32.self, forKey: .padTokenID)
        bosTokenID = try container.decodeIfPresent(Int32.self, forKey: .bosTokenID)
        doSample = try container.decodeIfPresent(Bool.self, forKey: .doSample)
        temperature = try container.decodeIfPresent(Double.self, forKey: .temperature)
        topK = try container.decodeIfPresent(Int.self, forKey: .topK)
        topP = try container.decodeIfPresent(Double.self, forKey: .topP)
        repetitionPenalty = try container.decodeIfPresent(Double.self, forKey: .repetitionPenalty)
        maxNewTokens = try container.decodeIfPresent(Int.self, forKey: .maxNewTokens)
    }
}
