/// How the runner's threads share work, as a pure state machine: the decode workers, the engine owner and the
/// writer each ask it what to do next and report what they did, under one lock held by `PipelineRunner`. It does no
/// I/O and starts no threads, so tests drive it step by step.
///
/// Invariants: at most `window` items are in flight (taken for preparation and not yet written or dropped), which
/// bounds memory whatever the input size; records leave in input order; after `stop()` no item is taken and prepared
/// items waiting for the engine are dropped (a rerun does them), while items already in the engine finish.
struct RunnerState<Prepared, Finished> {
    /// What a decode worker does next.
    enum PrepareAction: RunnerAction {
        case prepare(Int)
        case wait
        case exit

        var waits: Bool { if case .wait = self { true } else { false } }
    }

    /// What the engine owner does next.
    enum EngineAction: RunnerAction {
        case run([(index: Int, prepared: Prepared)])
        case wait
        case exit

        var waits: Bool { if case .wait = self { true } else { false } }
    }

    /// What the writer does next.
    enum WriteAction: RunnerAction {
        case write([Finished])
        case wait
        case exit

        var waits: Bool { if case .wait = self { true } else { false } }
    }

    /// How a preparation ended: ready for the engine, or already finished with an error record.
    enum Preparation {
        case ready(Prepared)
        case failed(Finished)
    }

    let itemCount: Int
    let window: Int
    private(set) var inFlight = 0
    private(set) var stopping = false
    private(set) var abandoning = false
    private var nextIndex = 0
    private var preparing = 0
    private var running = 0
    private var ready: [(index: Int, prepared: Prepared)] = []
    private var finished: [Int: Finished] = [:]
    private var dropped: Set<Int> = []
    private var writeCursor = 0

    init(itemCount: Int, window: Int) {
        precondition(window >= 1, "the in-flight window holds at least one item")
        self.itemCount = itemCount
        self.window = window
    }

    /// Nothing is being worked on and nothing more will be taken.
    private var settled: Bool {
        preparing == 0 && running == 0 && ready.isEmpty && (stopping || nextIndex == itemCount)
    }

    mutating func nextToPrepare() -> PrepareAction {
        if stopping || nextIndex == itemCount { return .exit }
        if inFlight >= window { return .wait }
        defer { nextIndex += 1 }
        inFlight += 1
        preparing += 1
        return .prepare(nextIndex)
    }

    /// A worker finished preparing `index`: ready for the engine, or already finished (a failure record).
    mutating func prepared(_ index: Int, _ preparation: Preparation) {
        preparing -= 1
        switch preparation {
        case .failed(let record): finished[index] = record
        case .ready where stopping: drop(index)
        case .ready(let prepared): ready.append((index, prepared))
        }
    }

    mutating func nextToRun(maxBatch: Int) -> EngineAction {
        if abandoning { return .exit }
        if !ready.isEmpty {
            let batch = Array(ready.prefix(maxBatch))
            ready.removeFirst(batch.count)
            running += batch.count
            return .run(batch)
        }
        return settled ? .exit : .wait
    }

    /// The engine finished a batch.
    mutating func ran(_ results: [(index: Int, finished: Finished)]) {
        running -= results.count
        for (index, record) in results { finished[index] = record }
    }

    /// Finished records that can be written in order, skipping dropped items.
    mutating func nextToWrite() -> WriteAction {
        var batch: [Finished] = []
        while writeCursor < nextIndex {
            if dropped.remove(writeCursor) == nil {
                guard let record = finished.removeValue(forKey: writeCursor) else { break }
                batch.append(record)
            }
            writeCursor += 1
        }
        if !batch.isEmpty { return .write(batch) }
        return abandoning || settled ? .exit : .wait
    }

    /// The writer wrote `count` records: their window slots are free.
    mutating func wrote(_ count: Int) { inFlight -= count }

    /// Take no more items; drop those waiting for the engine; let items in preparation or in the engine finish.
    mutating func stop() {
        stopping = true
        for (index, _) in ready { drop(index) }
        ready.removeAll()
    }

    /// Stop, and let the writer and engine owner exit without waiting for the engine's current batch.
    mutating func abandon() {
        stop()
        abandoning = true
    }

    private mutating func drop(_ index: Int) {
        dropped.insert(index)
        inFlight -= 1
    }
}

/// An action of `RunnerState`, one of which tells the thread to sleep until the state changes.
protocol RunnerAction {
    /// Whether the thread should sleep.
    var waits: Bool { get }
}
