import ArgumentParser
import Foundation
import VLTokenizer

/// `vlbatch bench tokenizer`: single-threaded encode throughput, comparable with Benchmarks/tokenizer/reference.py.
struct BenchTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Encode a text file on one thread; print the load time, MB/s and tokens.",
        discussion: """
            The text is cut exactly as Benchmarks/tokenizer/reference.py cuts it: after every newline into lines \
            (each keeps its newline), and consecutive whole lines are packed into chunks of at most --chunk-bytes \
            bytes (a longer line is a chunk of its own; 0 means one chunk per line). The chunks are encoded one \
            after the other; the first pass (empty piece cache) is reported as cold-MB/s, then the best of --repeats \
            passes as MB/s.
            """)

    @Option(help: "A tokenizer directory (holding tokenizer.json) or a tokenizer.json file.")
    var tokenizer: String

    @Argument(help: "A UTF-8 text file (Benchmarks/tokenizer/make_text.py writes one).")
    var textFile: String

    @OptionGroup var passes: BenchPasses

    @Option(help: "Largest chunk in bytes (whole lines are packed up to it); 0 encodes line by line.")
    var chunkBytes: Int = 4096

    func validate() throws {
        if chunkBytes < 0 { throw ValidationError("--chunk-bytes must not be negative") }
    }

    func run() throws {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: textFile)))
        let chunks = Self.chunks(of: data, maximumBytes: chunkBytes).map { String(decoding: $0, as: UTF8.self) }
        guard chunks.reduce(0, { $0 + $1.utf8.count }) == data.count else {
            throw ValidationError("\(textFile) is not valid UTF-8")
        }
        let clock = ContinuousClock()
        let location = URL(fileURLWithPath: tokenizer)
        let isDirectory = (try? location.resourceValues(forKeys: [.isDirectoryKey]))?.isDirectory ?? false
        var model: Tokenizer?
        let loadSeconds =
            try clock.measure {
                model =
                    isDirectory ? try Tokenizer.load(directory: location) : try Tokenizer.load(tokenizerJSON: location)
            } / .seconds(1)
        guard let model else { return }
        // The first pass runs on an empty piece cache; reference.py leaves its own first pass untimed, to warm
        // tokenizers' cache (10,000 pieces; ours holds 65,536), so the cold figure is the conservative comparison.
        var tokens = 0
        let coldSeconds = clock.measure { tokens = chunks.reduce(0) { $0 + model.encode($1).count } } / .seconds(1)
        let fastest = best(of: passes.repeats) { for chunk in chunks { _ = model.encode(chunk) } }
        print(
            """
            vlbatch VLTokenizer, \(tokenizer)
            load seconds \(String(format: "%.3f", loadSeconds))
            input bytes \(data.count)
            chunks \(chunks.count) \(chunkBytes > 0 ? "(at most \(chunkBytes) bytes, whole lines)" : "(one per line)")
            tokens \(tokens)
            seconds \(String(format: "%.4f", fastest)) (best of \(passes.repeats))
            MB/s \(String(format: "%.2f", Double(data.count) / fastest / 1e6))
            cold-MB/s \(String(format: "%.2f", Double(data.count) / coldSeconds / 1e6)) (first pass, empty cache)
            tokens/s \(String(format: "%.0f", Double(tokens) / fastest))
            """)
    }

    /// reference.py's `chunks_of`: lines split after "\n", packed whole into chunks of at most `maximumBytes`.
    static func chunks(of data: [UInt8], maximumBytes: Int) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = 0
        for (index, byte) in data.enumerated() where byte == UInt8(ascii: "\n") {
            lines.append(data[lineStart...index])
            lineStart = index + 1
        }
        if lineStart < data.count { lines.append(data[lineStart...]) }
        guard maximumBytes > 0 else { return lines }
        var chunks: [ArraySlice<UInt8>] = []
        var chunkStart = 0
        var chunkEnd = 0
        for line in lines {
            if chunkEnd > chunkStart && chunkEnd - chunkStart + line.count > maximumBytes {
                chunks.append(data[chunkStart..<chunkEnd])
                chunkStart = chunkEnd
            }
            chunkEnd = line.endIndex
        }
        if chunkEnd > chunkStart { chunks.append(data[chunkStart..<chunkEnd]) }
        return chunks
    }
}
