import Foundation

// MARK: - Inputs

/// The kinds of file a pipeline reads; chosen by file extension when folders are walked.
public enum InputKind: String, Sendable, CaseIterable, Comparable {
    /// Image files, decoded by the engine (which recognises the format by content).
    case images
    /// UTF-8 text files, read by the runner and available to prompts as `{text}`.
    case text

    /// Extensions taken when a folder or glob is walked. Images the decoder does not support (GIF, WebP, ...) are
    /// taken too, so that each gets an error record instead of being skipped without a word.
    public var extensions: Set<String> {
        switch self {
        case .images: ["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "heic"]
        case .text: ["txt", "md", "markdown", "text"]
        }
    }

    /// Orders kinds for stable messages and fingerprints.
    public static func < (lhs: InputKind, rhs: InputKind) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The input stage: which files the pipeline reads. Paths, folders and globs come from the command line.
public struct Inputs: PipelineComponent {
    /// The step.
    public let steps: [PipelineStep]

    /// Image files.
    public static func images() -> Inputs { files(.images) }

    /// Text files.
    public static func text() -> Inputs { files(.text) }

    /// Files of the given kinds, for example `.files(.images, .text)` for scanned and typed documents.
    public static func files(_ kinds: InputKind...) -> Inputs {
        Inputs(steps: [PipelineStep(kind: .inputs(Set(kinds)))])
    }
}

/// One input file, as stages and the engine see it.
public struct InputItem: Sendable, Equatable {
    /// The path relative to the input root (the folder or glob prefix it was found under); the record's `id`.
    public let id: String
    /// Where the file is.
    public let url: URL
    /// Whether it is read as an image or as text.
    public let kind: InputKind

    /// An item; `id` must be unique within a job.
    public init(id: String, url: URL, kind: InputKind) {
        self.id = id
        self.url = url
        self.kind = kind
    }

    /// The last path component, as in the prompt placeholder `{file_name}`.
    public var fileName: String { url.lastPathComponent }
}

// MARK: - Prompt

/// The prompt stage: a fixed prompt, or a template filled per item.
public struct Prompt: PipelineComponent {
    /// The step.
    public let steps: [PipelineStep]

    /// A fixed prompt, used as written (braces included).
    public init(_ text: String) { steps = [PipelineStep(kind: .prompt(PromptTemplate(text: text, isTemplate: false)))] }

    /// A template: `{file_name}`, `{path}` (the item id) and `{text}` (the content of a text input) are replaced.
    public init(template: String) {
        steps = [PipelineStep(kind: .prompt(PromptTemplate(text: template, isTemplate: true)))]
    }
}

/// A prompt, literal or with placeholders.
public struct PromptTemplate: Sendable, Equatable {
    /// Placeholders a template may use.
    public static let placeholders = ["file_name", "path", "text"]

    /// The text as written in the pipeline.
    public let text: String
    /// Whether placeholders are replaced.
    public let isTemplate: Bool

    /// The placeholder names the template uses, in order of appearance.
    var usedPlaceholders: [String] {
        guard isTemplate else { return [] }
        var names: [String] = []
        var rest = text[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// The prompt for one item.
    func render(item: InputItem, text content: String?) -> String {
        guard isTemplate else { return text }
        return text.replacingOccurrences(of: "{file_name}", with: item.fileName)
            .replacingOccurrences(of: "{path}", with: item.id)
            .replacingOccurrences(of: "{text}", with: content ?? "")
    }
}

// MARK: - Tasks

/// What the engine is asked to produce for each item.
public enum TaskSpec: Sendable, Equatable {
    /// Free text of at most `maxTokens` tokens; the record's `text`.
    case generate(maxTokens: Int)
    /// One of `labels` with its probability (the engine scores every label); the record's `label` and
    /// `probability`.
    case classify(labels: [String], question: String)
    /// A JSON object with `fields` (constrained decoding, so it always parses); the record's `fields`.
    case extract(fields: [ExtractField], instruction: String)
}

/// Free-text generation.
public struct Generate: PipelineComponent {
    /// The step.
    public let steps: [PipelineStep]

    /// Generates at most `maxTokens` tokens (`--max-tokens` overrides it).
    public init(maxTokens: Int = 256) { steps = [PipelineStep(kind: .task(.generate(maxTokens: maxTokens)))] }
}

/// Classification into fixed labels, with the probability of the chosen one.
public struct Classify: PipelineComponent {
    /// The step.
    public let steps: [PipelineStep]

    /// Asks `question` and chooses among `labels`; the question is the prompt, so no `Prompt` stage is needed.
    public init(labels: [String], question: String) {
        steps = [PipelineStep(kind: .task(.classify(labels: labels, question: question)))]
    }
}

/// Structured extraction into a JSON object.
public struct Extract: PipelineComponent {
    /// The step.
    public let steps: [PipelineStep]

    /// Extracts the listed fields; a `Prompt` stage, when present, replaces `instruction`.
    public init(fields: [ExtractField], instruction: String = "Extract these fields from the document.") {
        steps = [PipelineStep(kind: .task(.extract(fields: fields, instruction: instruction)))]
    }

    /// Extracts the stored properties of a `Decodable` type, found by decoding it once with a recording decoder.
    public init(_ type: any Decodable.Type, instruction: String = "Extract these fields from the document.") {
        switch FieldRecorder.fields(of: type) {
        case .success(let fields):
            steps = [PipelineStep(kind: .task(.extract(fields: fields, instruction: instruction)))]
        case .failure(let problem): steps = [PipelineStep(kind: .invalid(problem.text))]
        }
    }
}

/// One field of an extraction.
public struct ExtractField: Sendable, Equatable {
    /// JSON types a field may have.
    public enum FieldType: String, Sendable {
        /// A JSON string.
        case string
        /// A JSON number without a fraction.
        case integer
        /// Any JSON number.
        case number
        /// `true` or `false`.
        case boolean
    }

    /// The key in the output object.
    public let name: String
    /// The value's type.
    public let type: FieldType
    /// Whether `null` is allowed (for a value the document does not state).
    public let optional: Bool

    /// A field.
    public init(_ name: String, _ type: FieldType = .string, optional: Bool = false) {
        self.name = name
        self.type = type
        self.optional = optional
    }

    /// Whether `value` fits this field.
    func accepts(_ value: JSONValue) -> Bool {
        switch (type, value) {
        case (_, .null): optional
        case (.string, .string), (.integer, .integer), (.number, .integer), (.number, .number),
            (.boolean, .bool):
            true
        default: false
        }
    }

    /// The description used in the job fingerprint.
    var fingerprint: JSONValue { .string("\(name): \(type.rawValue)\(optional ? "?" : "")") }
}

// MARK: - Closures

/// Keeps only the items for which `predicate` is true; items left out get no record and are not counted.
public struct Filter: PipelineComponent {
    /// The step.
    public let steps: [PipelineStep]

    /// A filter; `name` identifies it in the job fingerprint (bump the pipeline's `version` when its code changes).
    public init(_ name: String = "filter", _ predicate: @escaping @Sendable (InputItem) -> Bool) {
        steps = [PipelineStep(kind: .filter(name: name, predicate: predicate))]
    }
}

/// Transforms each result before it is written; a throw becomes the item's error record.
public struct Map: PipelineComponent {
    /// The step.
    public let steps: [PipelineStep]

    /// A transform; `name` identifies it in the job fingerprint (bump the pipeline's `version` when its code
    /// changes).
    public init(_ name: String = "map", _ transform: @escaping @Sendable (ItemResult) throws -> ItemResult) {
        steps = [PipelineStep(kind: .map(name: name, transform: transform))]
    }
}

/// The result fields of one item, as `Map` closures see and change them.
public struct ItemResult: Sendable {
    /// The item.
    public let item: InputItem
    /// The result fields written to the record (`text`; `label` and `probability`; or `fields`), and any added.
    public var fields: [String: JSONValue]

    /// A result; `fields` keys must not collide with the record's own (`id`, `pipeline`, `model`, ...).
    public init(item: InputItem, fields: [String: JSONValue]) {
        self.item = item
        self.fields = fields
    }

    /// The generated text, for `Generate` pipelines.
    public var text: String? {
        get { fields["text"]?.stringValue }
        set { fields["text"] = newValue.map(JSONValue.string) }
    }
}

// MARK: - Output

/// Where results go besides the JSONL journal, which is always written and is what resume reads.
public enum OutputFormat: String, Sendable {
    /// One JSON record per line (the default).
    case jsonl
    /// A `.txt` file next to each image holding its result, for caption-training workflows.
    case sidecarText
    /// CSV: streamed to standard output without `--output`; otherwise `OUTPUT.csv` rendered from the journal.
    case csv
}

/// The output stage.
public struct Output: PipelineComponent {
    /// The step.
    public let steps: [PipelineStep]

    /// JSONL records (the default when no output stage is given).
    public static func jsonl() -> Output { Output(steps: [PipelineStep(kind: .output(.jsonl))]) }

    /// A `NAME.txt` sidecar next to each image, written atomically before its record.
    public static func sidecarText() -> Output { Output(steps: [PipelineStep(kind: .output(.sidecarText))]) }

    /// CSV with the id, the result columns and the error.
    public static func csv() -> Output { Output(steps: [PipelineStep(kind: .output(.csv))]) }
}

// MARK: - Settings

/// The pipeline's default model: a directory or a Hugging Face repository id (`--model` overrides it).
public struct Model: PipelineComponent {
    /// The step.
    public let steps: [PipelineStep]

    /// A model reference, resolved as `--model` is.
    public init(_ reference: String) { steps = [PipelineStep(kind: .model(reference))] }
}

/// Sampling settings; greedy by default, so results are reproducible.
public struct Sampling: PipelineComponent, Equatable {
    /// 0 picks the most likely token every time.
    public var temperature: Double
    /// Nucleus sampling mass, in (0, 1].
    public var topP: Double
    /// The seed; each item's own seed derives from it and the item id, so results do not depend on order.
    public var seed: UInt64

    /// Sampling settings.
    public init(temperature: Double = 0, topP: Double = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
    }

    /// The step.
    public var steps: [PipelineStep] { [PipelineStep(kind: .sampling(self))] }
}

/// The visual-token budget per image; `nil` keeps the checkpoint's own limits.
public struct ImageBudget: PipelineComponent, Equatable {
    /// At most this many visual tokens per image.
    public var maxImageTokens: Int?
    /// Resize to at least this many pixels.
    public var minPixels: Int?
    /// Resize to at most this many pixels.
    public var maxPixels: Int?

    /// A budget.
    public init(maxImageTokens: Int? = nil, minPixels: Int? = nil, maxPixels: Int? = nil) {
        self.maxImageTokens = maxImageTokens
        self.minPixels = minPixels
        self.maxPixels = maxPixels
    }

    /// The step.
    public var steps: [PipelineStep] { [PipelineStep(kind: .imageBudget(self))] }
}
