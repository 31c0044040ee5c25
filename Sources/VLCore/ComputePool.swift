import CVLKernels
import Foundation
import Synchronization

/// A fixed set of threads that run the data-parallel loops of the compute kernels.
///
/// `parallelFor` cuts `0..<count` into contiguous, near-equal parts, one per thread, and the calling thread works on
/// the first part itself. Kernels split work by output rows, so every output element is computed by one thread in
/// one fixed order: results are bit-identical whatever the thread count. The threads are long-lived; between loops
/// they spin briefly, then sleep (a decode step runs a few hundred loops; spawning threads per loop, or waking
/// sleeping ones each time, would cost more than the work).
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
///
/// Hand-offs spin before they sleep. A decode step posts a loop every few hundred microseconds at most, with gaps of
/// some tens of microseconds between them (norms, rotary, attention set-up), and waking a thread that sleeps on a
/// condition variable costs tens of microseconds on a VM (an inter-processor interrupt to a halted virtual CPU): a
/// worker that fell asleep in every gap cost Qwen2-VL-2B bf16 decoding about 15 % of its speed. So a worker polls
/// for the next job, and the caller for the workers' completion, for `spinDuration` before falling back to the
/// condition: long enough to span any gap inside a step and between steps, short enough that an idle pool soon
/// stops burning its cores. The spin is timed rather than counted because a pause instruction takes from about 15
/// to over 40 ns depending on the CPU.
// @unchecked Sendable: `job` and `stopping` are read and written only while holding `condition`; `published` changes
// only under it too (and is read without it while spinning); `pending` is atomic.
private final class JobBoard: @unchecked Sendable {
    /// How long a thread spins before it sleeps.
    static let spinDuration = Duration.milliseconds(2)
    /// Pause instructions between two looks at the clock while spinning.
    private static let pausesPerClockRead = 64

    private let condition = NSCondition()
    private let workers: Int
    private var job: Job?
    private var stopping = false
    /// How many jobs have been posted.
    private let published = Atomic<Int>(0)
    /// Workers that have not finished the current job.
    private let pending = Atomic<Int>(0)

    init(workers: Int) { self.workers = workers }

    /// Spins until `done()` holds or `spinDuration` passes; returns whether it held.
    private static func spin(until done: () -> Bool) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + spinDuration
        repeat {
            for _ in 0..<pausesPerClockRead {
                if done() { return true }
                vl_cpu_relax()
            }
        } while clock.now < deadline
        return done()
    }

    /// Posts `job` to the workers, runs part 0 on the calling thread, and waits until every worker is done and has
    /// let go of the job.
    func run(_ job: Job) {
        condition.lock()
        precondition(self.job == nil, "parallelFor was called from inside a parallelFor body")
        self.job = job
        pending.store(workers, ordering: .relaxed)
        published.add(1, ordering: .releasing)
        condition.broadcast()
        condition.unlock()

        job.run(part: 0)

        if !Self.spin(until: { pending.load(ordering: .acquiring) == 0 }) {
            condition.lock()
            while pending.load(ordering: .acquiring) > 0 { condition.wait() }
            condition.unlock()
        }
        condition.lock()
        self.job = nil
        condition.unlock()
    }

    /// Ends the worker threads once they next look for work.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// The loop of worker thread `worker` (1-based; part 0 is the caller's).
    func work(as worker: Int) {
        var seen = 0
        while true {
            _ = Self.spin(until: { published.load(ordering: .acquiring) != seen })
            condition.lock()
            while published.load(ordering: .relaxed) == seen && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            seen = published.load(ordering: .relaxed)
            var job = self.job
            condition.unlock()

            job?.run(part: worker)
            // Drop the job (and the body it holds) before reporting: `withoutActuallyEscaping` in `parallelFor`
            // traps if the body is still referenced when the loop returns.
            job = nil

            if pending.subtract(1, ordering: .releasing).newValue == 0 {
                condition.lock()
                condition.broadcast()
                condition.unlock()
            }
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
