/// One turn of a conversation: who speaks, and the images and text they contribute, in order.
///
/// Mirrors the content-part form of transformers' chat messages: `{"role": "user", "content": [{"type": "image"},
/// {"type": "text", "text": "..."}]}`.
public struct ChatMessage: Sendable, Equatable {
    /// The speaker of a turn.
    public enum Role: String, Sendable {
        /// Instructions that frame the conversation; only as the first message.
        case system
        /// The person asking.
        case user
        /// The model's earlier answers (few-shot examples, prefilled replies).
        case assistant
    }

    /// One piece of a turn.
    public enum Part: Sendable, Equatable {
        /// An image; its visual tokens are inserted at this place.
        case image
        /// Plain text, taken literally: special-token strings inside it are not interpreted.
        case text(String)
    }

    /// Who speaks.
    public var role: Role
    /// What they say, in order.
    public var parts: [Part]

    /// A turn made of the given parts.
    public init(role: Role, parts: [Part]) {
        self.role = role
        self.parts = parts
    }

    /// A system turn of plain text.
    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: .system, parts: [.text(text)]) }

    /// A user turn; images and text in the given order.
    public static func user(_ parts: [Part]) -> ChatMessage { ChatMessage(role: .user, parts: parts) }

    /// An assistant turn of plain text.
    public static func assistant(_ text: String) -> ChatMessage {
        ChatMessage(role: .assistant, parts: [.text(text)])
    }
}
