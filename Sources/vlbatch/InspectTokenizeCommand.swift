import ArgumentParser
import Foundation
import VLTokenizer

/// `vlbatch inspect tokenize`: the token ids and tokens of a text under a checkpoint's tokenizer.
struct InspectTokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids and tokens of a text as JSON.",
        discussion: """
            Special-token strings in the text (<|im_start|>, <|image_pad|>, ...) become their special tokens, as \
            Hugging Face tokenizers does; --literal reads them as plain text instead.
            """)

    @Option(help: "A model or tokenizer directory holding tokenizer.json.")
    var model: String

    @Argument(help: "The text to tokenize.")
    var text: String?

    @Option(help: "Tokenize the contents of this UTF-8 file instead.")
    var file: String?

    @Flag(help: "Read special-token strings in the text as plain text.")
    var literal = false

    func validate() throws {
        if (text == nil) == (file == nil) { throw ValidationError("give either a TEXT or --file, not both") }
    }

    func run() throws {
        let tokenizer = try Tokenizer.load(directory: URL(fileURLWithPath: model))
        let input = try text ?? String(contentsOf: URL(fileURLWithPath: file!), encoding: .utf8)
        let ids = tokenizer.encode(input, parsingSpecialTokens: !literal)
        print(try JSONLine.encode(Tokenization(ids: ids, tokens: ids.map { tokenizer.token(forID: $0) ?? "" })))
    }

    private struct Tokenization: Encodable {
        let ids: [Int32]
        let tokens: [String]
    }
}
