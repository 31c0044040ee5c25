/// A rendered prompt before tokenization: literal text, special tokens named by their strings, and image slots.
///
/// Keeping special tokens apart from text means text from the user (a file's content, a caption request) can
/// never be read as a control token such as `<|im_end|>`, while the text between two special tokens is still
/// tokenized as one run, exactly as Hugging Face tokenizes the rendered template string.
public enum PromptSegment: Sendable, Equatable {
    /// Text, tokenized as ordinary text.
    case text(String)
    /// A special token, by its string (`<|im_start|>`).
    case special(String)
    /// The place of one image's visual tokens: `<|image_pad|>`, repeated once per visual token when tokenized.
    case image
}

extension [PromptSegment] {
    /// The prompt as the reference's `apply_chat_template` renders it, one `<|image_pad|>` per image.
    public var renderedText: String {
        map { segment in
            switch segment {
            case .text(let text): text
            case .special(let token): token
            case .image: QwenSpecialToken.imagePad
            }
        }.joined()
    }
}

/// The special-token strings Qwen prompts are made of (the same strings in every generation; the ids differ).
public enum QwenSpecialToken {
    /// Starts a turn.
    public static let turnStart = "<|im_start|>"
    /// Ends a turn; also the token that ends generation.
    public static let turnEnd = "<|im_end|>"
    /// Opens an image's visual tokens.
    public static let visionStart = "<|vision_start|>"
    /// Closes an image's visual tokens.
    public static let visionEnd = "<|vision_end|>"
    /// One visual token of an image.
    public static let imagePad = "<|image_pad|>"
    /// Ends a document; Qwen's other stop token.
    public static let endOfText = "<|endoftext|>"
}
