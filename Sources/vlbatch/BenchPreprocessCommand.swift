import ArgumentParser
import Dispatch
import Foundation
import VLImage
import VLModels

/// `vlbatch bench preprocess`: images per second through decoding and Qwen preprocessing.
struct BenchPreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Decode and preprocess images repeatedly; print images/s and where the time goes.")

    @Argument(help: "Image files to process (each pass processes all of them).")
    var files: [String]

    @Option(help: "A directory holding a preprocessor_config.json (a model or processor directory).")
    var processor: String

    @OptionGroup var budget: ImageBudgetOptions

    @OptionGroup var passes: BenchPasses

    @Option(help: "Images processed at the same time, one per thread.")
    var workers: Int = 1

    func validate() throws {
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
    }

    func run() throws {
        let imageProcessor = try budget.makeProcessor(directory: processor)
        let inputs = try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }.map { [UInt8]($0) }
        let limits = budget.decodingLimits
        var best: PassTiming?
        for _ in 0..<passes.repeats {
            let pass = try timePass(inputs: inputs, processor: imageProcessor, limits: limits)
            if best == nil || pass.wall < best!.wall { best = pass }
        }
        guard let best else { return }
        let perImage = { (seconds: Double) in String(format: "%.1f ms", seconds * 1000 / Double(inputs.count)) }
        print(
            """
            images: \(inputs.count), workers: \(workers), best of \(passes.repeats) passes
            images/s: \(String(format: "%.2f", Double(inputs.count) / best.wall))
            per image (summed over workers): decode \(perImage(best.decode)), \
            resize+patchify \(perImage(best.preprocess))
            visual tokens per image: \(best.tokens / inputs.count)
            """)
    }

    /// One pass over all inputs, files handed out to `workers` threads.
    private func timePass(inputs: [[UInt8]], processor: QwenImageProcessor, limits: ImageDecodingLimits) throws
        -> PassTiming
    {
        let results = Results(count: inputs.count)
        let start = DispatchTime.now()
        let next = Counter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let index = next.take(below: inputs.count) {
                results.store(index, Result { try Self.process(inputs[index], name: files[index], processor, limits) })
            }
        }
        let wall = start.secondsElapsed
        var total = PassTiming(wall: wall)
        for result in results.all {
            let item = try result.get()
            total.decode += item.decode
            total.preprocess += item.preprocess
            total.tokens += item.tokens
        }
        return total
    }

    private static func process(
        _ bytes: [UInt8], name: String, _ processor: QwenImageProcessor, _ limits: ImageDecodingLimits
    ) throws -> PassTiming {
        let start = DispatchTime.now()
        let decoded = try ImageDecoder.decode(bytes: bytes, name: name, limits: limits)
        let decodeTime = start.secondsElapsed
        let patches = try processor.preprocess(decoded.image, source: name)
        return PassTiming(
            wall: 0, decode: decodeTime, preprocess: start.secondsElapsed - decodeTime,
            tokens: patches.imageTokenCount)
    }
}

private struct PassTiming {
    var wall: Double
    var decode = 0.0
    var preprocess = 0.0
    var tokens = 0
}

extension DispatchTime {
    fileprivate var secondsElapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - uptimeNanoseconds) / 1e9 }
}

/// A shared index handed out to worker threads.
// @unchecked Sendable: `value` is only touched while holding `lock`.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}

/// Per-input results written by worker threads, each slot by exactly one thread.
// @unchecked Sendable: every slot is written once, by the one worker that took its index, and read after all
// workers have finished (concurrentPerform returns only then); `lock` orders the writes with that read.
private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<PassTiming, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func store(_ index: Int, _ result: Result<PassTiming, any Error>) { lock.withLock { slots[index] = result } }

    var all: [Result<PassTiming, any Error>] { lock.withLock { slots.compactMap { $0 } } }
}
