import Testing

@testable import VLPipeline

/// The coordination state machine, driven step by step without threads.
@Suite struct RunnerStateTests {
    typealias State = RunnerState<Int, Int>

    /// A seeded random schedule of prepare / run / write steps: every item is written once, in order, and the
    /// in-flight count never exceeds the window.
    @Test(arguments: [(1, 1), (2, 3), (4, 2), (7, 8)])
    func randomSchedulesKeepOrderAndTheWindow(window: Int, maxBatch: Int) {
        var state = State(itemCount: 50, window: window)
        var random = ScheduleRandom(seed: UInt64(window * 31 + maxBatch))
        var preparing: [Int] = []
        var running: [Int] = []
        var written: [Int] = []
        var finished = false
        while !finished {
            #expect(state.inFlight <= window)
            switch random.next() % 4 {
            case 0:
                if case .prepare(let index) = state.nextToPrepare() { preparing.append(index) }
            case 1:
                guard !preparing.isEmpty else { continue }
                let index = preparing.remove(at: Int(random.next() % UInt64(preparing.count)))
                // Every fifth item fails in preparation and skips the engine.
                state.prepared(index, index % 5 == 0 ? .failed(index) : .ready(index))
            case 2:
                if !running.isEmpty {
                    state.ran(running.map { ($0, $0) })
                    running = []
                } else if case .run(let batch) = state.nextToRun(maxBatch: maxBatch) {
                    #expect(batch.count <= maxBatch)
                    running = batch.map(\.index)
                }
            default:
                switch state.nextToWrite() {
                case .write(let records):
                    written += records
                    state.wrote(records.count)
                case .exit: finished = true
                case .wait: break
                }
            }
        }
        #expect(written == Array(0..<50))
        #expect(state.inFlight == 0)
    }

    @Test func stopDropsItemsWaitingForTheEngineAndWritesTheRestInOrder() {
        var state = State(itemCount: 10, window: 4)
        for _ in 0..<4 { _ = state.nextToPrepare() }
        #expect(state.nextToPrepare().waits)
        state.prepared(1, .ready(1))
        state.prepared(0, .ready(0))
        guard case .run(let batch) = state.nextToRun(maxBatch: 1) else {
            Issue.record("the engine should get item 1")
            return
        }
        #expect(batch.map(\.index) == [1])
        state.prepared(2, .ready(2))
        state.stop()
        guard case .exit = state.nextToPrepare() else {
            Issue.record("no item is taken after stop")
            return
        }
        state.prepared(3, .failed(3))
        // Item 0 (ready) and 2 were dropped; item 1 is in the engine and is still written, then item 3.
        #expect(state.nextToWrite().waits)
        state.ran([(1, 1)])
        guard case .write(let records) = state.nextToWrite() else {
            Issue.record("items 1 and 3 should be written")
            return
        }
        #expect(records == [1, 3])
        state.wrote(records.count)
        guard case .exit = state.nextToWrite() else {
            Issue.record("the writer should exit")
            return
        }
        #expect(state.inFlight == 0)
    }

    @Test func abandonLetsTheWriterExitWithoutTheEngine() {
        var state = State(itemCount: 3, window: 3)
        _ = state.nextToPrepare()
        state.prepared(0, .ready(0))
        _ = state.nextToRun(maxBatch: 1)
        state.abandon()
        guard case .exit = state.nextToWrite(), case .exit = state.nextToRun(maxBatch: 1) else {
            Issue.record("writer and engine owner should exit at once")
            return
        }
    }
}

/// Knuth's MMIX linear congruential generator, high bits only: schedules are the same on every run.
struct ScheduleRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
    }
}
