/// The continuous-batching schedule of a batch of generation jobs, as a pure state machine (no model, no threads):
/// it says which job to prefill next and which jobs decode together, and the caller reports jobs that finish.
///
/// Policy: a waiting job is admitted (prefilled) whenever fewer than `maxActive` jobs are decoding, in submission
/// order; otherwise every active job takes one decode step together, so each step reads the weights once for all of
/// them. A job that finishes frees its slot for the next waiting one at once — continuous batching.
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

    /// A schedule for jobs `0 ..< jobs`.
    public init(jobs: Int, maxActive: Int) {
        precondition(maxActive >= 1, "at least one job must be able to run")
        self.maxActive = maxActive
        waiting = Array(0..<jobs)
    }

    /// Whether every job has finished.
    public var isDone: Bool { waiting.isEmpty && active.isEmpty }

    /// The next step, or nil when every job has finished. A `.prefill` makes its job active.
    public mutating func next() -> Step? {
        if active.count < maxActive, !waiting.isEmpty {
            let job = waiting.removeFirst()
            active.append(job)
            return .prefill(job)
        }
        return active.isEmpty ? nil : .decode(active)
    }

    /// Marks an active job finished (stop token, token limit, deadline or error), freeing its slot.
    public mutating func finish(_ job: Int) {
        active.removeAll { $0 == job }
    }
}
