import Foundation

/// A fixed set of threads that run the data-parallel loops of the compute kernels.
///
/// `parallelFor` cuts `0..<count` into contiguous, near-equal parts, one per thread, and the calling thread works on
/// the first part itself. Kernels split work by output rows, so every output element is computed by one thread in
/// one fixed order: results are bit-identical whatever the thread count. The threads are long-lived and sleep
/// between loops (a decode step runs a few hundred loops; spawning threads per loop would cost more than the work).
///
/// Calls from several threads are serialised; a call from inside a loop body is a programmer error.
public final class ComputePool: Sendable {
    /// Threads taking part in each loop, the caller included.
    public let threadCount: Int
    private let board: JobBoard
    private let callerLock = NSLock()

    /// A pool of `threadCount` threads (the caller plus `threadCount - 1` workers); by default one per core.
    public init(threadCount: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(threadCount >= 1, "a compute pool needs at least one thread")
        self.threadCount = threadCount
        board = JobBoard(workers: threadCount - 1)
        for worker in 1..<threadCount {
            // Workers hold the board, not the pool, so they can still read the stop signal after the pool is gone.
            let thread = Thread { [board] in board.work(as: worker) }
            thread.name = "vlbatch-compute-\(worker)"
            thread.start()
        }
    }

    deinit { board.stop() }

    /// Runs `body` over `0..<count`, split into at most `threadCount` contiguous ranges of at least
    /// `minimumChunk` indices each (small loops stay on fewer threads); returns when every range is done.
    public func parallelFor(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        precondition(count >= 0 && minimumChunk >= 1, "count must be non-negative and chunks positive")
        let parts = min(threadCount, max(1, count / minimumChunk))
        if parts == 1 || count == 0 {
            body(0..<count)
            return
        }
        callerLock.lock()
        defer { callerLock.unlock() }
        withoutActuallyEscaping(body) { body in
            board.run(Job(count: count, parts: parts, body: body))
        }
    }
}

/// The state the caller and the worker threads share: the current job and who is still working on it.
// @unchecked Sendable: every stored property is read and written only while holding `condition`.
private final class JobBoard: @unchecked Sendable {
    private let condition = NSCondition()
    private let workers: Int
    private var job: Job?
    private var generation = 0
    private var pending = 0
    private var stopping = false

    init(workers: Int) { self.workers = workers }

    /// Posts `job` to the workers, runs part 0 on the calling thread, and waits until every worker is done and has
    /// let go of the job.
    func run(_ job: Job) {
        condition.lock()
        precondition(self.job == nil, "parallelFor was called from inside a parallelFor body")
        self.job = job
        pending = workers
        generation += 1
        condition.broadcast()
        condition.unlock()

        job.run(part: 0)

        condition.lock()
        while pending > 0 { condition.wait() }
        self.job = nil
        condition.unlock()
    }

    /// Ends the worker threads once they next wake.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// The loop of worker thread `worker` (1-based; part 0 is the caller's).
    func work(as worker: Int) {
        var seenGeneration = 0
        while true {
            condition.lock()
            while generation == seenGeneration && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            seenGeneration = generation
            var job = self.job
            condition.unlock()

            job?.run(part: worker)
            // Drop the job (and the body it holds) before reporting: `withoutActuallyEscaping` in `parallelFor`
            // traps if the body is still referenced when the loop returns.
            job = nil

            condition.lock()
            pending -= 1
            if pending == 0 { condition.broadcast() }
            condition.unlock()
        }
    }
}

/// One loop: its extent, how it is cut, and what runs on each part.
// @unchecked Sendable: immutable; `body` is only called while `parallelFor` waits for it.
private final class Job: @unchecked Sendable {
    let count: Int
    let parts: Int
    let body: (Range<Int>) -> Void

    init(count: Int, parts: Int, body: @escaping (Range<Int>) -> Void) {
        self.count = count
        self.parts = parts
        self.body = body
    }

    /// Part `index` of `parts` near-equal contiguous ranges; parts past `parts` have nothing to do.
    func run(part index: Int) {
        guard index < parts else { return }
        let start = count * index / parts
        let end = count * (index + 1) / parts
        if start < end { body(start..<end) }
    }
}
