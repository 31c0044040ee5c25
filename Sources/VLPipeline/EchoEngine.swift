import Foundation

/// A deterministic stand-in for a model, reachable as `--model builtin:echo`: for tests, benchmarks of the runner,
/// and trying a pipeline before a model is at hand.
///
/// It reads each image's header (PNG or JPEG; anything else, an empty or unreadable file, is an error, as with the
/// real decoder) and describes it; it describes a text by its length. Classification picks a label by a stable hash
/// of the item id; extraction fills each field from the file's name and size. Token counts follow Qwen2-VL's
/// 28-pixel patches within the image budget, so budgets show in the records.
public struct EchoEngine: PipelineEngine {
    /// The model name that selects this engine.
    public static let modelName = "builtin:echo"

    /// What `prepare` found out about an item.
    public struct Prepared: Sendable {
        let request: EngineRequest
        let description: String
        let visualTokens: Int
    }

    /// Time spent in `run` per item, to imitate a slow model (tests of signals and time limits).
    public let delay: Duration

    /// An echo engine.
    public init(delay: Duration = .zero) { self.delay = delay }

    /// `builtin:echo`, revision 1.
    public var identity: ModelIdentity { ModelIdentity(name: Self.modelName, revision: "1") }

    /// Reads the file and describes it.
    public func prepare(_ request: EngineRequest) throws -> Prepared {
        let item = request.item
        if let text = request.text {
            let lines = text.split(whereSeparator: \.isNewline).count
            return Prepared(
                request: request, description: "text \(item.fileName): \(text.count) characters, \(lines) lines",
                visualTokens: 0)
        }
        let bytes = try Self.header(of: item)
        guard let (format, width, height) = Self.imageSize(bytes) else {
            throw PipelineError.notAnImage(path: item.url.path)
        }
        let patch = 28
        var tokens = max(1, ((width + patch - 1) / patch) * ((height + patch - 1) / patch) / 4)
        if let cap = request.imageBudget.maxImageTokens { tokens = min(tokens, cap) }
        return Prepared(
            request: request, description: "\(format) image \(item.fileName): \(width)x\(height)",
            visualTokens: tokens)
    }

    /// Answers each job after `delay`, or with a time-limit error if the deadline comes first.
    public func run(_ batch: [EngineJob<Prepared>]) -> [Result<EngineOutput, any Error>] {
        batch.map { job in
            Result {
                if delay > .zero {
                    let end = ContinuousClock.now + delay
                    if let deadline = job.deadline, deadline < end {
                        Thread.sleep(forTimeInterval: max(0, (deadline - ContinuousClock.now).seconds))
                        throw job.timeLimitError
                    }
                    Thread.sleep(forTimeInterval: delay.seconds)
                }
                return answer(job.prepared)
            }
        }
    }

    private func answer(_ prepared: Prepared) -> EngineOutput {
        let request = prepared.request
        let hash = StableHash.fnv1a64(request.item.id)
        let answer: EngineAnswer
        switch request.task {
        case .generate(let maxTokens):
            let words = "\(prepared.description); prompt: \(request.prompt)".split(separator: " ")
            answer = .text(words.prefix(maxTokens).joined(separator: " "))
        case .classify(let labels, _):
            answer = .label(labels[Int(hash % UInt64(labels.count))], probability: Double(500 + hash % 500) / 1000)
        case .extract(let fields, _):
            var object: [String: JSONValue] = [:]
            for field in fields {
                object[field.name] =
                    switch field.type {
                    case .string: .string(request.item.fileName)
                    case .integer: .integer(request.item.id.utf8.count)
                    case .number: .number(Double(hash % 10_000) / 100)
                    case .boolean: .bool(hash % 2 == 0)
                    }
            }
            answer = .json(JSONValue.object(object).serialized)
        }
        let promptTokens = prepared.visualTokens + request.prompt.utf8.count / 4 + 1
        let generated: Int =
            switch answer {
            case .text(let text): text.split(separator: " ").count
            case .label: 1
            case .json(let text): text.utf8.count / 4
            }
        return EngineOutput(
            answer: answer, visualTokens: prepared.visualTokens, promptTokens: promptTokens, generatedTokens: generated)
    }

    /// The first 64 KiB of the file, enough to find a JPEG's frame header in any ordinary file.
    private static func header(of item: InputItem) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: item.url.path) else {
            throw PipelineError.unreadableInput(path: item.url.path, reason: "cannot open the file")
        }
        defer { try? handle.close() }
        do {
            return [UInt8](try handle.read(upToCount: 65_536) ?? Data())
        } catch {
            throw PipelineError.unreadableInput(path: item.url.path, reason: "\(error)")
        }
    }

    /// Format and size from a PNG's IHDR or a JPEG's start-of-frame marker.
    static func imageSize(_ bytes: [UInt8]) -> (String, Int, Int)? {
        func bigEndian(_ at: Int, _ count: Int) -> Int {
            bytes[at..<(at + count)].reduce(0) { $0 << 8 | Int($1) }
        }
        if bytes.count >= 24, bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return ("png", bigEndian(16, 4), bigEndian(20, 4))
        }
        guard bytes.starts(with: [0xFF, 0xD8]) else { return nil }
        var at = 2
        while at + 9 < bytes.count, bytes[at] == 0xFF {
            let marker = bytes[at + 1]
            // SOF0-SOF15 hold the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                return ("jpeg", bigEndian(at + 7, 2), bigEndian(at + 5, 2))
            }
            at += 2 + bigEndian(at + 2, 2)
        }
        return nil
    }
}
