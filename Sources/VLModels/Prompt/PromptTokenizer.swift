import VLTokenizer

/// Turns rendered prompt segments into token ids, expanding each image slot into its visual tokens.
///
/// transformers' processor replaces the i-th `<|image_pad|>` of the rendered text with as many copies as the i-th
/// image has visual tokens, then tokenizes the whole string. Here the text runs are tokenized with special-token
/// strings read literally (so a file's content cannot inject `<|im_end|>`), the template's special tokens are
/// looked up by name, and the pads are repeated at the id level; for every prompt whose text holds no
/// special-token string the ids are the reference's exactly.
public struct PromptTokenizer: Sendable {
    /// The tokenizer of the checkpoint.
    public let tokenizer: Tokenizer
    /// The id of `<|image_pad|>`.
    public let imagePadID: Int32

    /// A prompt tokenizer; fails when the vocabulary lacks the image-pad token.
    public init(tokenizer: Tokenizer) throws(ModelError) {
        self.tokenizer = tokenizer
        imagePadID = try Self.specialID(QwenSpecialToken.imagePad, in: tokenizer)
    }

    /// The ids of `segments`, where the n-th `.image` becomes `imageTokenCounts[n]` image-pad tokens.
    public func tokenize(_ segments: [PromptSegment], imageTokenCounts: [Int]) throws(ModelError) -> [Int32] {
        let imageSlots = segments.count { $0 == .image }
        guard imageSlots == imageTokenCounts.count else {
            throw .invalidPrompt(
                reason: "the prompt has \(imageSlots) image slots but \(imageTokenCounts.count) images")
        }
        var ids: [Int32] = []
        var nextImage = 0
        for segment in segments {
            switch segment {
            case .text(let text):
                ids += tokenizer.encode(text, parsingSpecialTokens: false)
            case .special(let token):
                ids.append(try Self.specialID(token, in: tokenizer))
            case .image:
                ids += repeatElement(imagePadID, count: imageTokenCounts[nextImage])
                nextImage += 1
            }
        }
        return ids
    }

    /// The ids that end generation: the checkpoint's `eos_token_id` list, or, when its generation config names
    /// none, `<|im_end|>` and `<|endoftext|>` (what every Qwen VL generation config lists).
    public func stopTokenIDs(_ generation: GenerationConfig) throws(ModelError) -> Set<Int32> {
        if !generation.eosTokenIDs.isEmpty { return Set(generation.eosTokenIDs) }
        return [
            try Self.specialID(QwenSpecialToken.turnEnd, in: tokenizer),
            try Self.specialID(QwenSpecialToken.endOfText, in: tokenizer),
        ]
    }

    private static func specialID(_ token: String, in tokenizer: Tokenizer) throws(ModelError) -> Int32 {
        guard let id = tokenizer.specialTokens[token] ?? tokenizer.id(forToken: token) else {
            throw .missingToken(token)
        }
        return id
    }
}
