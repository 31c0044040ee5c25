/// The k-th largest of a stream of values (duplicates counted), kept in a min-heap of the k largest seen so far.
///
/// This is `torch.topk(scores, k)[0][..., -1]`, the threshold of transformers' `TopKLogitsWarper`, without sorting
/// the row: a 248k-entry row with k = 20 costs one comparison per entry for almost every entry. The storage is
/// reused from row to row, so steady-state use allocates nothing. NaN is not supported.
struct KthLargest {
    private var heap: [Float] = []
    private var k = 1

    /// Empties the heap for a new row, keeping its storage.
    mutating func reset(k: Int) {
        precondition(k >= 1, "k is at least 1")
        self.k = k
        heap.removeAll(keepingCapacity: true)
        heap.reserveCapacity(k)
    }

    /// Takes `value` into account.
    @inline(__always)
    mutating func offer(_ value: Float) {
        if heap.count < k {
            heap.append(value)
            siftUp(from: heap.count - 1)
        } else if value > heap[0] {
            heap[0] = value
            siftDown(from: 0)
        }
    }

    /// The k-th largest value offered; -inf while fewer than k values have been offered.
    var value: Float { heap.count < k ? -.infinity : heap[0] }

    private mutating func siftUp(from start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child] < heap[parent] else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1] < heap[left] { smallest = left + 1 }
            guard heap[smallest] < heap[parent] else { return }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
