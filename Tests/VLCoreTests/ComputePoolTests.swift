import Synchronization
import Testing

@testable import VLCore

@Suite struct ComputePoolTests {
    @Test(arguments: [1, 2, 3, 4])
    func everyIndexRunsExactlyOnce(threads: Int) {
        let pool = ComputePool(threadCount: threads)
        for count in [0, 1, 2, 7, 15, 16, 17, 255, 1025] {
            let visits = Mutex([Int](repeating: 0, count: count))
            pool.parallelFor(count) { range in
                visits.withLock { for index in range { $0[index] += 1 } }
            }
            #expect(visits.withLock { $0 } == [Int](repeating: 1, count: count), "count \(count)")
        }
    }

    /// A row-split reduction gives the same bits on one thread or several, since each row is summed by one thread.
    @Test func resultsDoNotDependOnThreadCount() {
        let rows = 333
        let columns = 1001
        let values = (0..<(rows * columns)).map { Float(($0 * 7919) % 1013) * 1e-3 - 0.5 }
        func rowSums(threads: Int) -> [Float] {
            let pool = ComputePool(threadCount: threads)
            let sums = Mutex([Float](repeating: 0, count: rows))
            pool.parallelFor(rows) { range in
                for row in range {
                    var sum: Float = 0
                    for column in 0..<columns { sum += values[row * columns + column] }
                    sums.withLock { $0[row] = sum }
                }
            }
            return sums.withLock { $0 }
        }
        let single = rowSums(threads: 1)
        #expect(rowSums(threads: 2).map(\.bitPattern) == single.map(\.bitPattern))
        #expect(rowSums(threads: 4).map(\.bitPattern) == single.map(\.bitPattern))
    }

    @Test func smallLoopsStayOnFewerThreads() {
        let pool = ComputePool(threadCount: 4)
        let ranges = Mutex([Range<Int>]())
        pool.parallelFor(10, minimumChunk: 5) { range in ranges.withLock { $0.append(range) } }
        #expect(ranges.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound } == [0..<5, 5..<10])
    }

    /// Worker threads outlive their pool only to read the stop signal, which lives in storage they own.
    @Test func poolsCanBeCreatedAndDroppedRepeatedly() {
        for round in 0..<100 {
            let pool = ComputePool(threadCount: 3)
            let sum = Mutex(0)
            pool.parallelFor(30) { range in sum.withLock { $0 += range.reduce(0, +) } }
            #expect(sum.withLock { $0 } == 435, "round \(round)")
        }
    }

    /// A count shared by the tasks below.
    final class Total: Sendable {
        let value = Mutex(0)
    }

    @Test func callsFromSeveralThreadsAreSerialised() async {
        let pool = ComputePool(threadCount: 2)
        let total = Total()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<50 {
                        pool.parallelFor(100) { range in total.value.withLock { $0 += range.count } }
                    }
                }
            }
        }
        #expect(total.value.withLock { $0 } == 8 * 50 * 100)
    }
}
