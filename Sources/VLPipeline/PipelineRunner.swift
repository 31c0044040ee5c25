import Foundation

/// How a run goes, as opposed to what it computes: none of this is part of the job fingerprint.
public struct RunOptions: Sendable {
    /// Decode workers: threads reading and preparing items while the engine runs.
    public var workers = 2
    /// The per-item time limit, from the start of preparation to the engine's answer.
    public var timeLimit: Duration?
    /// Stop taking items once this many error records have been written in this run.
    public var maxErrors: Int?
    /// Text inputs above this many bytes get an error record instead of a prompt that cannot fit.
    public var maxTextBytes = 1 << 20
    /// Items in flight at most (taken and not yet written); `nil` picks `2 × workers + maxBatchSize`.
    public var window: Int?

    /// The defaults.
    public init() {}
}

/// Why a run ended before every item was written.
public enum StopReason: Sendable, Equatable {
    /// `stop()` was called (SIGINT or SIGTERM): items in the engine were finished.
    case requested
    /// `--max-errors` was reached.
    case maxErrors
    /// `abandon()` was called: items in the engine were left unfinished.
    case abandoned
    /// The output could not be written; the message says why.
    case outputFailed(PipelineError)
    /// The engine did not return within twice the per-item time limit: its batch got `timeLimitExceeded` records and
    /// no more items were taken, since the engine's thread cannot be interrupted.
    case engineHung
}

/// Counters of a run, readable at any moment for progress.
public struct RunStatistics: Sendable, Equatable {
    /// Items given to the run.
    public var total = 0
    /// Result records written.
    public var succeeded = 0
    /// Error records written.
    public var failed = 0
    /// Visual tokens over all items.
    public var visualTokens = 0
    /// Prompt tokens over all items, visual ones included.
    public var promptTokens = 0
    /// Generated tokens over all items.
    public var generatedTokens = 0
    /// The most items that were in flight at once (never above the window).
    public var peakInFlight = 0
    /// Time since the run started.
    public var elapsed: Duration = .zero
    /// Why the run ended early, if it did.
    public var stopReason: StopReason?

    /// Records written.
    public var written: Int { succeeded + failed }

    /// Zero counters: the statistics of a run with nothing to do.
    public init() {}
}

// @unchecked Sendable: all mutable state (`state`, `counters`, `started`) is read and written only while holding
// `condition`; the rest is immutable.
/// Runs a pipeline over items: a pool of decode workers, one engine owner and one writer, joined by a bounded
/// window of items in flight, so memory stays flat however many items there are. Records are written in input order.
///
/// `run` blocks; `stop`, `abandon` and `statistics` may be called from any thread meanwhile.
public final class PipelineRunner<Engine: PipelineEngine>: @unchecked Sendable {
    private struct Pending: Sendable {
        let prepared: Engine.Prepared
        let started: ContinuousClock.Instant
        let preparation: Duration
    }

    /// A record on its way to the writer, with its item (for the sidecar's path).
    private struct Completed {
        let item: InputItem
        let record: OutputRecord
    }

    private let plan: PipelinePlan
    private let engine: Engine
    private let options: RunOptions
    private let items: [InputItem]
    private let condition = NSCondition()
    private var state: RunnerState<Pending, Completed>
    private var counters = RunStatistics()
    private var started: ContinuousClock.Instant?
    /// The batch in the engine and when the watchdog gives up on it (twice the time limit after the earliest start).
    private var engineWatch: (batch: [(index: Int, item: InputItem)], giveUp: ContinuousClock.Instant)?
    private var engineHung = false

    /// A runner of `plan` on `engine` over `items`.
    public init(plan: PipelinePlan, engine: Engine, items: [InputItem], options: RunOptions = RunOptions()) {
        precondition(options.workers >= 1, "a run needs at least one decode worker")
        self.plan = plan
        self.engine = engine
        self.items = items
        self.options = options
        let window = options.window ?? (2 * options.workers + engine.maxBatchSize)
        state = RunnerState(itemCount: items.count, window: window)
        counters.total = items.count
    }

    /// Processes every item (or until stopped), writing records to `sink` on the calling thread, and returns the
    /// counters. After `abandon`, it returns without waiting for the engine's current batch.
    public func run(into sink: any RecordSink) -> RunStatistics {
        let threads = DispatchGroup()
        withLock { started = .now }
        for worker in 0..<options.workers {
            spawn("vlbatch-decode-\(worker)", in: threads) { $0.prepareLoop() }
        }
        spawn("vlbatch-engine", in: threads) { $0.engineLoop() }
        writeLoop(into: sink)
        if !withLock({ state.abandoning || engineHung }) { threads.wait() }
        return statistics
    }

    /// Takes no more items; items already in the engine are finished and written. Safe from any thread.
    public func stop() { withLock { stop(.requested, abandoning: false) } }

    /// Stops at once: finished records are written, the engine's current batch is not waited for.
    public func abandon() { withLock { stop(.abandoned, abandoning: true) } }

    /// The counters so far.
    public var statistics: RunStatistics {
        withLock {
            var snapshot = counters
            snapshot.elapsed = started.map { .now - $0 } ?? .zero
            return snapshot
        }
    }

    // MARK: - Threads

    private func spawn(_ name: String, in group: DispatchGroup, _ body: @escaping @Sendable (PipelineRunner) -> Void) {
        group.enter()
        let thread = Thread { [self] in
            body(self)
            group.leave()
        }
        thread.name = name
        thread.start()
    }

    private func prepareLoop() {
        while case .prepare(let index) = next({ $0.nextToPrepare() }) {
            let preparation = prepare(items[index])
            update { $0.prepared(index, preparation) }
        }
    }

    private func engineLoop() {
        let maxBatch = max(1, engine.maxBatchSize)
        while case .run(let batch) = next({ $0.nextToRun(maxBatch: maxBatch) }) {
            let jobs = batch.map { entry in
                EngineJob(
                    prepared: entry.prepared.prepared, timeLimit: options.timeLimit,
                    deadline: options.timeLimit.map { entry.prepared.started + $0 })
            }
            let start = ContinuousClock.now
            if let limit = options.timeLimit, let first = batch.map(\.prepared.started).min() {
                let watched = batch.map { ($0.index, items[$0.index]) }
                withLock {
                    engineWatch = (watched, first + limit * 2)
                    // The writer may be asleep without a timeout: it starts watching now.
                    condition.broadcast()
                }
            }
            let results = engine.run(jobs)
            precondition(results.count == jobs.count, "PipelineEngine.run must return one result per job")
            let engineTime = ContinuousClock.now - start
            let records = zip(batch, results).map { entry, result in
                let item = items[entry.index]
                let timings = Self.timings(prepare: entry.prepared.preparation, engine: engineTime)
                do {
                    return (entry.index, Completed(item: item, record: try resultRecord(item, result.get(), timings)))
                } catch {
                    return (entry.index, Completed(item: item, record: errorRecord(item, error, timings: timings)))
                }
            }
            let abandoned = withLock {
                engineWatch = nil
                return engineHung
            }
            // The watchdog has written these items off and stopped the run.
            if abandoned { return }
            update { $0.ran(records) }
        }
    }

    private func writeLoop(into sink: any RecordSink) {
        while case .write(let batch) = nextToWrite() {
            var failure: PipelineError?
            for completed in batch {
                do throws(PipelineError) {
                    try sink.write(plan.output == .sidecarText ? writeSidecar(completed) : completed.record)
                } catch {
                    failure = error
                    break
                }
                withLock { counters.count(completed.record) }
            }
            withLock {
                state.wrote(batch.count)
                if let failure {
                    stop(.outputFailed(failure), abandoning: true)
                } else if let maxErrors = options.maxErrors, counters.failed >= maxErrors, !state.stopping {
                    stop(.maxErrors, abandoning: false)
                }
                condition.broadcast()
            }
        }
    }

    // MARK: - Items

    private func prepare(_ item: InputItem) -> RunnerState<Pending, Completed>.Preparation {
        let start = ContinuousClock.now
        do {
            let text = item.kind == .text ? try readText(item) : nil
            let request = EngineRequest(
                item: item, text: text, prompt: plan.prompt.render(item: item, text: text), task: plan.task,
                sampling: plan.sampling, imageBudget: plan.imageBudget)
            let prepared = try engine.prepare(request)
            let elapsed = ContinuousClock.now - start
            if let limit = options.timeLimit, elapsed > limit {
                throw PipelineError.timeLimitExceeded(seconds: limit.seconds)
            }
            return .ready(Pending(prepared: prepared, started: start, preparation: elapsed))
        } catch {
            let timings = Self.timings(prepare: .now - start, engine: nil)
            return .failed(Completed(item: item, record: errorRecord(item, error, timings: timings)))
        }
    }

    private func readText(_ item: InputItem) throws(PipelineError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: item.url)
        } catch {
            throw .unreadableInput(path: item.url.path, reason: error.localizedDescription)
        }
        if data.count > options.maxTextBytes {
            throw .textTooLarge(path: item.url.path, bytes: data.count, limit: options.maxTextBytes)
        }
        guard let text = String(validating: data, as: UTF8.self) else { throw .textNotUTF8(path: item.url.path) }
        return text
    }

    private func baseMembers(_ item: InputItem, timings: JSONValue) -> [String: JSONValue] {
        [
            "id": .string(item.id), "pipeline": .string(plan.name), "model": .string(engine.identity.name),
            "timings": timings,
        ]
    }

    private func errorRecord(_ item: InputItem, _ error: any Error, timings: JSONValue) -> OutputRecord {
        var members = baseMembers(item, timings: timings)
        members["error"] = ItemError(error).json
        return OutputRecord(id: item.id, members: members)
    }

    private func resultRecord(_ item: InputItem, _ output: EngineOutput, _ timings: JSONValue) throws -> OutputRecord {
        var result = ItemResult(item: item, fields: try resultFields(output.answer))
        for map in plan.maps {
            do {
                result = try map.transform(result)
            } catch {
                throw PipelineError.mapFailed(stage: map.name, reason: "\(error)")
            }
        }
        var members = result.fields.merging(baseMembers(item, timings: timings)) { _, own in own }
        members["visual_tokens"] = .integer(output.visualTokens)
        members["prompt_tokens"] = .integer(output.promptTokens)
        members["generated_tokens"] = .integer(output.generatedTokens)
        return OutputRecord(id: item.id, members: members)
    }

    /// The task's result members; an extraction must be a JSON object with exactly the declared fields.
    private func resultFields(_ answer: EngineAnswer) throws(PipelineError) -> [String: JSONValue] {
        switch answer {
        case .text(let text): return ["text": .string(text)]
        case .label(let label, let probability): return ["label": .string(label), "probability": .number(probability)]
        case .json(let text):
            guard let object = try? JSONValue.parse(text).objectValue else {
                throw .invalidExtraction("not a JSON object: \(text.prefix(200))")
            }
            guard case .extract(let fields, _) = plan.task else { return ["fields": .object(object)] }
            // Every field must be present, `null` standing for a value the document does not state.
            for field in fields where !(object[field.name].map(field.accepts) ?? false) {
                throw .invalidExtraction("field \(field.name) is missing or not \(field.type.rawValue)")
            }
            let extra = Set(object.keys).subtracting(fields.map(\.name))
            if !extra.isEmpty { throw .invalidExtraction("unexpected fields \(extra.sorted())") }
            return ["fields": .object(object)]
        }
    }

    /// Writes the result beside the image as `NAME.txt` (atomically) and notes the path in the record.
    private func writeSidecar(_ completed: Completed) throws(PipelineError) -> OutputRecord {
        let item = completed.item
        var record = completed.record
        guard !record.isError else { return record }
        let text =
            record.members["text"]?.stringValue ?? record.members["label"]?.stringValue
            ?? record.members["fields"]?.serialized ?? ""
        let target = item.url.deletingPathExtension().appendingPathExtension("txt")
        try OutputJournal.replace(target, with: text + "\n")
        record.members["sidecar"] = .string(target.path)
        return record
    }

    private static func timings(prepare: Duration, engine: Duration?) -> JSONValue {
        func milliseconds(_ duration: Duration) -> JSONValue { .number((duration.seconds * 10_000).rounded() / 10) }
        var members = ["prepare_ms": milliseconds(prepare)]
        if let engine { members["engine_ms"] = milliseconds(engine) }
        return .object(members)
    }

    // MARK: - Locking

    private func withLock<Value>(_ body: () -> Value) -> Value {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    /// Changes the state and wakes every waiting thread.
    private func update(_ change: (inout RunnerState<Pending, Completed>) -> Void) {
        withLock {
            change(&state)
            counters.peakInFlight = max(counters.peakInFlight, state.inFlight)
            condition.broadcast()
        }
    }

    /// Stops the state machine and keeps the first reason given; the caller holds the lock.
    private func stop(_ reason: StopReason, abandoning: Bool) {
        if abandoning { state.abandon() } else { state.stop() }
        if counters.stopReason == nil || abandoning && counters.stopReason == .requested {
            counters.stopReason = reason
        }
        condition.broadcast()
    }

    /// The writer's next action. While it waits, it watches the engine: a batch still running twice the time limit
    /// after it started gets `timeLimitExceeded` records and the run stops, so a hung engine cannot hang the job.
    private func nextToWrite() -> RunnerState<Pending, Completed>.WriteAction {
        withLock {
            while true {
                let action = state.nextToWrite()
                guard action.waits else { return action }
                guard let watch = engineWatch else {
                    condition.wait()
                    continue
                }
                if ContinuousClock.now < watch.giveUp {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: (watch.giveUp - .now).seconds))
                    continue
                }
                let timings = Self.timings(prepare: .zero, engine: nil)
                let error = PipelineError.timeLimitExceeded(seconds: options.timeLimit?.seconds ?? 0)
                state.ran(
                    watch.batch.map {
                        ($0.index, Completed(item: $0.item, record: errorRecord($0.item, error, timings: timings)))
                    })
                engineWatch = nil
                engineHung = true
                stop(.engineHung, abandoning: false)
            }
        }
    }

    /// The state's next action for a thread, sleeping while the action is to wait.
    private func next<Action: RunnerAction>(_ decide: (inout RunnerState<Pending, Completed>) -> Action) -> Action {
        withLock {
            var action = decide(&state)
            while action.waits {
                condition.wait()
                action = decide(&state)
            }
            counters.peakInFlight = max(counters.peakInFlight, state.inFlight)
            return action
        }
    }
}

extension RunStatistics {
    fileprivate mutating func count(_ record: OutputRecord) {
        if record.isError { failed += 1 } else { succeeded += 1 }
        if case .integer(let tokens)? = record.members["visual_tokens"] { visualTokens += tokens }
        if case .integer(let tokens)? = record.members["prompt_tokens"] { promptTokens += tokens }
        if case .integer(let tokens)? = record.members["generated_tokens"] { generatedTokens += tokens }
    }
}
