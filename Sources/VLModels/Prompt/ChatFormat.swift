import Foundation

/// The chat formats of the Qwen vision-language generations, rendered without a template engine.
///
/// Each case reproduces what transformers' `apply_chat_template` makes of the checkpoint's own Jinja template for
/// conversations of system, user and assistant turns made of text and images (no tools, no videos):
/// - ``qwen2VL``: Qwen2-VL and Qwen2.5-VL. A default system prompt ("You are a helpful assistant.") is inserted
///   when the conversation does not start with one; content is not trimmed.
/// - ``qwen3VL``: Qwen3-VL. The same turn layout without a default system prompt; images in a system message are
///   dropped, as its template does.
/// - ``qwen35``: Qwen3.5. Every turn's content is trimmed (Jinja `|trim`, Python's `str.strip()`), and the
///   generation prompt opens the assistant turn with an empty think block unless thinking is asked for; `<think>`
///   blocks in earlier answers are dropped.
public enum ChatFormat: String, Sendable, CaseIterable {
    /// Qwen2-VL and Qwen2.5-VL.
    case qwen2VL = "qwen2-vl"
    /// Qwen3-VL.
    case qwen3VL = "qwen3-vl"
    /// Qwen3.5.
    case qwen35 = "qwen3.5"

    /// Options of a rendering.
    public struct Options: Sendable, Equatable {
        /// End with the opening of the assistant's turn, so the model answers next.
        public var addGenerationPrompt: Bool
        /// Qwen3.5 only: let the model reason in a `<think>` block first. Off by default: thinking lowers
        /// perception scores and spends tokens on batch tasks.
        public var enableThinking: Bool

        /// Options; the defaults suit batch perception tasks.
        public init(addGenerationPrompt: Bool = true, enableThinking: Bool = false) {
            self.addGenerationPrompt = addGenerationPrompt
            self.enableThinking = enableThinking
        }
    }

    /// The prompt for `messages` as segments; throws when the conversation has no shape the template accepts.
    public func render(_ messages: [ChatMessage], options: Options = Options()) throws(ModelError) -> [PromptSegment] {
        try validate(messages)
        var segments: [PromptSegment] = []
        if self == .qwen2VL, messages.first?.role != .system {
            segments += Self.turn(.system, content: [.text("You are a helpful assistant.")])
        }
        let lastUserIndex = messages.lastIndex { $0.role == .user } ?? -1
        for (index, message) in messages.enumerated() {
            var content = message.parts.flatMap(Self.segments(of:))
            switch self {
            case .qwen2VL: break
            case .qwen3VL:
                // The Qwen3-VL template writes only the text parts of a system message.
                if message.role == .system { content = content.filter { if case .text = $0 { true } else { false } } }
            case .qwen35:
                content = PythonWhitespace.strip(content)
                if message.role == .assistant {
                    content = Self.qwen35Answer(content.renderedText, followsLastQuestion: index > lastUserIndex)
                }
            }
            segments += Self.turn(message.role, content: content)
        }
        if options.addGenerationPrompt {
            segments += [.special(QwenSpecialToken.turnStart), .text("assistant\n")]
            if self == .qwen35 {
                segments.append(.text(options.enableThinking ? "<think>\n" : "<think>\n\n</think>\n\n"))
            }
        }
        return Self.mergingAdjacentText(segments)
    }

    /// The rules each template enforces by raising an exception.
    private func validate(_ messages: [ChatMessage]) throws(ModelError) {
        if messages.isEmpty { throw .invalidPrompt(reason: "a conversation needs at least one message") }
        if self == .qwen35 && !messages.contains(where: { $0.role == .user }) {
            throw .invalidPrompt(reason: "a Qwen3.5 conversation needs a user message")
        }
        for (index, message) in messages.enumerated() {
            if message.role == .system && index != 0 {
                throw .invalidPrompt(reason: "a system message may only come first")
            }
            if message.role == .system && self == .qwen35 && message.parts.contains(.image) {
                throw .invalidPrompt(reason: "a Qwen3.5 system message cannot hold images")
            }
            if message.role == .assistant && message.parts.contains(.image) {
                throw .invalidPrompt(reason: "an assistant message holds text only")
            }
        }
    }

    /// A Qwen3.5 answer: the template moves a `<think>` block out of the content, drops it from answers before
    /// the last question, and writes it (empty or not) in an answer after it.
    private static func qwen35Answer(_ content: String, followsLastQuestion: Bool) -> [PromptSegment] {
        var answer = content
        var reasoning = ""
        if let close = content.range(of: "</think>") {
            // content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
            let beforeClose = content[..<close.lowerBound].trimmingSuffix("\n")
            let open = beforeClose.range(of: "<think>", options: .backwards)
            reasoning = String(beforeClose[(open?.upperBound ?? beforeClose.startIndex)...]).trimmingPrefix("\n")
            // content.split('</think>')[-1].lstrip('\n')
            let lastClose = content.range(of: "</think>", options: .backwards)!
            answer = String(content[lastClose.upperBound...]).trimmingPrefix("\n")
        }
        guard followsLastQuestion else { return answer.isEmpty ? [] : [.text(answer)] }
        let trimmedReasoning = PythonWhitespace.strip([.text(reasoning)]).renderedText
        return [.text("<think>\n" + trimmedReasoning + "\n</think>\n\n" + answer)]
    }

    private static func segments(of part: ChatMessage.Part) -> [PromptSegment] {
        switch part {
        case .image: [.special(QwenSpecialToken.visionStart), .image, .special(QwenSpecialToken.visionEnd)]
        case .text(let text): [.text(text)]
        }
    }

    private static func turn(_ role: ChatMessage.Role, content: [PromptSegment]) -> [PromptSegment] {
        [.special(QwenSpecialToken.turnStart), .text(role.rawValue + "\n")] + content
            + [.special(QwenSpecialToken.turnEnd), .text("\n")]
    }

    /// Joins neighbouring text segments: the reference tokenizes all text between two special tokens as one run.
    private static func mergingAdjacentText(_ segments: [PromptSegment]) -> [PromptSegment] {
        var merged: [PromptSegment] = []
        for segment in segments {
            if case .text(let next) = segment, case .text(let previous)? = merged.last {
                merged[merged.count - 1] = .text(previous + next)
            } else if segment != .text("") {
                merged.append(segment)
            }
        }
        return merged
    }
}

/// Python's `str.strip()` applied across segments, as Jinja's `trim` filter applies it to rendered content.
enum PythonWhitespace {
    /// Characters for which Python's `str.isspace()` is true.
    static func contains(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            true
        default: false
        }
    }

    /// Strips leading whitespace from the leading text and trailing whitespace from the trailing text; a special
    /// token or an image stops the stripping, as it would stop `strip()` on the rendered string.
    static func strip(_ segments: [PromptSegment]) -> [PromptSegment] {
        var result = segments
        while case .text(let text)? = result.first {
            let kept = String(String.UnicodeScalarView(text.unicodeScalars.drop(while: contains)))
            if kept.isEmpty {
                result.removeFirst()
            } else {
                result[0] = .text(kept)
                break
            }
        }
        while case .text(let text)? = result.last {
            var scalars = Array(text.unicodeScalars)
            while let last = scalars.last, contains(last) { scalars.removeLast() }
            if scalars.isEmpty {
                result.removeLast()
            } else {
                result[result.count - 1] = .text(String(String.UnicodeScalarView(scalars)))
                break
            }
        }
        return result
    }
}

extension StringProtocol {
    /// Python's `rstrip(chars)` for one character set given as a string of single characters.
    func trimmingSuffix(_ characters: String) -> SubSequence {
        var end = endIndex
        while end > startIndex, characters.contains(self[index(before: end)]) { end = index(before: end) }
        return self[startIndex..<end]
    }

    /// Python's `lstrip(chars)`.
    func trimmingPrefix(_ characters: String) -> String {
        String(drop { characters.contains($0) })
    }
}
