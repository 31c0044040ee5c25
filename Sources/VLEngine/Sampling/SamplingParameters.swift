import VLModels

/// How the next token is chosen: greedy, or sampled after repetition penalty, temperature, top-k, top-p and min-p.
///
/// The fields and their meaning are transformers' (`GenerationConfig`), and so are the keys of the Codable form
/// (`do_sample`, `top_k`, ...), so a job's recorded parameters read like a `generation_config.json`. A value that
/// switches a processor off is the one transformers treats as off: temperature 1, top-k 0, top-p 1, min-p 0,
/// repetition penalty 1. With `doSample` false only the repetition penalty applies and the rest is ignored, as in
/// transformers.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// Sample from the processed distribution (`do_sample`); false takes the most likely token.
    public var doSample: Bool
    /// Logits are divided by this before the cut-offs (`temperature`); must be above 0 when sampling.
    public var temperature: Double
    /// Keep the `topK` most likely tokens, ties at the k-th value included (`top_k`); 0 keeps all.
    public var topK: Int
    /// Keep the smallest head of the distribution holding probability `topP` (`top_p`), in (0, 1]; 1 keeps all.
    public var topP: Double
    /// Drop tokens less likely than `minP` times the most likely one (`min_p`), in [0, 1]; 0 keeps all.
    public var minP: Double
    /// Divides positive, multiplies negative logits of every token seen so far (`repetition_penalty`); 1 is off.
    public var repetitionPenalty: Double
    /// The run seed; each item's draws derive from it and the item's id (see `SamplingSeed`).
    public var seed: UInt64

    /// Greedy decoding without a repetition penalty: what transformers does with no generation config at all.
    public static let greedy = SamplingParameters(
        unchecked: false, temperature: 1, topK: 50, topP: 1, minP: 0, repetitionPenalty: 1, seed: 0)

    /// Parameters with transformers' defaults for whatever is not given; throws when a value is out of range.
    public init(
        doSample: Bool = false, temperature: Double = 1, topK: Int = 50, topP: Double = 1, minP: Double = 0,
        repetitionPenalty: Double = 1, seed: UInt64 = 0
    ) throws(SamplingError) {
        self.init(
            unchecked: doSample, temperature: temperature, topK: topK, topP: topP, minP: minP,
            repetitionPenalty: repetitionPenalty, seed: seed)
        try validate()
    }

    /// The parameters transformers' `generate()` would use for a checkpoint: `overrides` (command-line flags) win
    /// over the checkpoint's `generation_config.json`, which wins over transformers' global defaults
    /// (`GenerationConfig._get_default_generation_params`: do_sample false, temperature 1, top_k 50, top_p 1,
    /// repetition_penalty 1; min_p is unset there, so off).
    public init(generationConfig: GenerationConfig, overrides: SamplingOverrides = SamplingOverrides())
        throws(SamplingError)
    {
        try self.init(
            doSample: overrides.doSample ?? generationConfig.doSample ?? false,
            temperature: overrides.temperature ?? generationConfig.temperature ?? 1,
            topK: overrides.topK ?? generationConfig.topK ?? 50,
            topP: overrides.topP ?? generationConfig.topP ?? 1,
            minP: overrides.minP ?? 0,
            repetitionPenalty: overrides.repetitionPenalty ?? generationConfig.repetitionPenalty ?? 1,
            seed: overrides.seed ?? 0)
    }

    private init(
        unchecked doSample: Bool, temperature: Double, topK: Int, topP: Double, minP: Double,
        repetitionPenalty: Double, seed: UInt64
    ) {
        self.doSample = doSample
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
    }

    /// Throws for a value the matching transformers processor would reject.
    ///
    /// The sampling-only values are checked in greedy mode too, although they are unused there: a top-p of 1.5 in a
    /// config is a mistake whichever mode it is used in. Only the temperature may be 0 in greedy mode, since
    /// "temperature 0" is how many tools spell greedy.
    public func validate() throws(SamplingError) {
        func invalid(_ name: String, _ value: some CustomStringConvertible, _ reason: String) -> SamplingError {
            .invalidParameter(name: name, value: value.description, reason: reason)
        }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else {
            throw invalid("repetition_penalty", repetitionPenalty, "must be a finite number above 0 (1 is off)")
        }
        if doSample {
            guard temperature > 0, temperature.isFinite else {
                throw invalid(
                    "temperature", temperature,
                    "must be a finite number above 0 when sampling; for greedy decoding set do_sample to false")
            }
        } else {
            guard temperature >= 0, temperature.isFinite else {
                throw invalid("temperature", temperature, "must be a finite number, 0 or above")
            }
        }
        guard topK >= 0 else { throw invalid("top_k", topK, "must be 0 (off) or above") }
        guard topP > 0, topP <= 1 else { throw invalid("top_p", topP, "must lie in (0, 1]; 1 is off") }
        guard minP >= 0, minP <= 1 else { throw invalid("min_p", minP, "must lie in [0, 1]; 0 is off") }
    }

    /// The processors these parameters switch on, in the order transformers applies them
    /// (`GenerationMixin._get_logits_processor`): the repetition penalty among the processors, then the warpers,
    /// which only run when sampling, temperature first. transformers also lists `MinPLogitsWarper` for an explicit
    /// `min_p` of 0; it changes nothing there, so it is left out here.
    public var processors: [LogitsProcessorKind] {
        var kinds: [LogitsProcessorKind] = []
        if repetitionPenalty != 1 { kinds.append(.repetitionPenalty) }
        guard doSample else { return kinds }
        if temperature != 1 { kinds.append(.temperature) }
        if topK != 0 { kinds.append(.topK) }
        if topP < 1 { kinds.append(.topP) }
        if minP != 0 { kinds.append(.minP) }
        return kinds
    }

    private enum CodingKeys: String, CodingKey {
        case doSample = "do_sample"
        case temperature
        case topK = "top_k"
        case topP = "top_p"
        case minP = "min_p"
        case repetitionPenalty = "repetition_penalty"
        case seed
    }

    /// Decodes the recorded form and validates it, so a hand-edited file cannot smuggle in a bad value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            unchecked: try container.decode(Bool.self, forKey: .doSample),
            temperature: try container.decode(Double.self, forKey: .temperature),
            topK: try container.decode(Int.self, forKey: .topK),
            topP: try container.decode(Double.self, forKey: .topP),
            minP: try container.decode(Double.self, forKey: .minP),
            repetitionPenalty: try container.decode(Double.self, forKey: .repetitionPenalty),
            seed: try container.decode(UInt64.self, forKey: .seed))
        do {
            try validate()
        } catch {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }
}

/// Values given explicitly (command-line flags), each replacing the checkpoint's `generation_config.json` value.
public struct SamplingOverrides: Sendable, Equatable {
    /// `do_sample`.
    public var doSample: Bool?
    /// `temperature`.
    public var temperature: Double?
    /// `top_k`.
    public var topK: Int?
    /// `top_p`.
    public var topP: Double?
    /// `min_p`.
    public var minP: Double?
    /// `repetition_penalty`.
    public var repetitionPenalty: Double?
    /// The run seed.
    public var seed: UInt64?

    /// Overrides; each value left nil keeps the checkpoint's (or transformers' default) value.
    public init(
        doSample: Bool? = nil, temperature: Double? = nil, topK: Int? = nil, topP: Double? = nil, minP: Double? = nil,
        repetitionPenalty: Double? = nil, seed: UInt64? = nil
    ) {
        self.doSample = doSample
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
    }
}

/// One logits processor of transformers' generation loop that vlbatch implements.
public enum LogitsProcessorKind: String, Sendable, CaseIterable, Codable {
    /// `RepetitionPenaltyLogitsProcessor`.
    case repetitionPenalty = "RepetitionPenaltyLogitsProcessor"
    /// `TemperatureLogitsWarper`.
    case temperature = "TemperatureLogitsWarper"
    /// `TopKLogitsWarper`.
    case topK = "TopKLogitsWarper"
    /// `TopPLogitsWarper`.
    case topP = "TopPLogitsWarper"
    /// `MinPLogitsWarper`.
    case minP = "MinPLogitsWarper"
}
