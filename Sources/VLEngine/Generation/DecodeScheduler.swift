/// The continuous-batching schedule of a batch of generation jobs, as a pure state machine (no model, no threads):
/// it says which job to prefill next and which jobs decode together, and the caller reports jobs that finish.
///
/// Policy: a waiting job is admitted (prefilled) whenever fewer than `maxActive` jobs are decoding and its state
/// (KV cache at its longest, recurrent state) fits in what the active jobs leave of `memoryBudget`, in submission
/// order; otherwise every active job takes one decode step together, so each step reads the weights once for all of
/// them. A job that finishes frees its slot and its memory for the next waiting one at once — continuous batching.
/// A job larger than the whole budget still runs, alone, so nothing waits forever.
public struct DecodeScheduler: Sendable, Equatable {
    /// What the caller runs next.
    public enum Step: Sendable, Equatable {
        /// Encode this job's images and run its prompt; it is active afterwards.
        case prefill(Int)
        /// One decode step for these active jobs, in this order.
        case decode([Int])
    }

    /// The most jobs decoding at once.
    public let maxActive: Int
    /// Jobs not started yet, in submission order.
    public private(set) var waiting: [Int]
    /// Jobs prefilled and not finished, in admission order.
    public private(set) var active: [Int] = []
    /// Each job's state bytes at its longest.
    public let costs: [Int]
    /// The most state bytes active jobs may hold together (nil: no limit but `maxActive`).
    public let memoryBudget: Int?
    private var activeCost = 0

    /// A schedule for jobs `0 ..< jobs`.
    public init(jobs: Int, maxActive: Int) {
        self.init(costs: Array(repeating: 0, count: jobs), maxActive: maxActive, memoryBudget: nil)
    }

    /// A schedule for jobs `0 ..< costs.count` whose states take `costs` bytes at their longest.
    public init(costs: [Int], maxActive: Int, memoryBudget: Int?) {
        precondition(maxActive >= 1, "at least one job must be able to run")
        self.maxActive = maxActive
        self.costs = costs
        self.memoryBudget = memoryBudget
        waiting = Array(costs.indices)
    }

    /// Whether every job has finished.
    public var isDone: Bool { waiting.isEmpty && active.isEmpty }

    /// The next step, or nil when every job has finished. A `.prefill` makes its job active.
    public mutating func next() -> Step? {
        if active.count < maxActive, let job = waiting.first, fits(job) {
            waiting.removeFirst()
            active.append(job)
            activeCost += costs[job]
            return .prefill(job)
        }
        return active.isEmpty ? nil : .decode(active)
    }

    /// Marks an active job finished (stop token, token limit, deadline or error), freeing its slot.
    public mutating func finish(_ job: Int) {
        guard active.contains(job) else { return }
        active.removeAll { $0 == job }
        activeCost -= costs[job]
    }

    /// Whether `job`'s state fits beside the active jobs' (always, when nothing is active).
    private func fits(_ job: Int) -> Bool {
        guard let memoryBudget, !active.isEmpty else { return true }
        return activeCost + costs[job] <= memoryBudget
    }
}
