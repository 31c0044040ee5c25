import Synchronization

/// The byte-level BPE model: one piece's bytes in, token ids out.
///
/// Port of HF tokenizers `models/bpe/model.rs` (`tokenize`, `merge_word`) and `word.rs` (`merge_all`), run on the
/// piece's raw bytes rather than on its byte-level characters: the ByteLevel pre-tokenizer maps bytes to characters
/// one to one, so looking up each byte's single-character token gives the same starting symbols without building
/// the string.
struct BytePairModel: Sendable {
    /// The id of the single-character token of each byte.
    let byteIDs: [Int32]
    /// The merge rules.
    let merges: MergeTable
    /// With `ignore_merges`, a piece that is itself in the vocabulary is that one token: the vocabulary's index.
    let wholePieces: ByteStringTable?
    /// Results for pieces seen before.
    let cache = PieceCache()

    /// Pieces longer than this are not cached (tokenizers' `MAX_LENGTH`, there counted in characters).
    private static let longestCachedPiece = 256

    /// Appends the ids of `piece` (non-empty) to `output`.
    func encode(_ piece: UnsafeBufferPointer<UInt8>, into output: inout [Int32], workspace: inout MergeWorkspace) {
        if piece.count == 1 {
            output.append(byteIDs[Int(piece[0])])
            return
        }
        let hash = ByteStringTable.hash(piece)
        if let wholePieces, let id = wholePieces.find(piece, hash: hash) {
            output.append(Int32(bitPattern: id))
            return
        }
        let cacheable = piece.count <= Self.longestCachedPiece
        if cacheable, cache.lookup(piece, hash: hash, appendingTo: &output) { return }
        let start = output.count
        workspace.merge(piece, byteIDs: byteIDs, merges: merges, into: &output)
        if cacheable { cache.insert(piece, hash: hash, ids: output[start...]) }
    }
}

/// Buffers for the merge loop, reused from piece to piece within one `encode` call.
struct MergeWorkspace {
    /// Symbol ids by position; −1 once merged into the symbol on its left.
    private var ids: [Int32] = []
    private var previous: [Int32] = []
    private var next: [Int32] = []
    /// Candidate merges as `rank << 32 | position`: a min-heap pops the lowest rank, then the leftmost position.
    private var heap: [UInt64] = []

    /// Merges the bytes of `piece` and appends the resulting ids to `output`.
    ///
    /// tokenizers' `Word::merge_all`: every adjacent pair with a rule goes into a priority queue; the best one is
    /// popped, skipped if either side has changed since it was queued, otherwise merged, and the two pairs the merged
    /// symbol now forms are queued. Ties in rank go to the leftmost pair, so `aaa` with `a a` gives `aa a`.
    mutating func merge(
        _ piece: UnsafeBufferPointer<UInt8>, byteIDs: [Int32], merges: MergeTable, into output: inout [Int32]
    ) {
        let count = piece.count
        ids.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for position in 0..<count {
            ids.append(byteIDs[Int(piece[position])])
            previous.append(Int32(position - 1))
            next.append(position + 1 < count ? Int32(position + 1) : -1)
        }
        for position in 0..<count - 1 {
            if let merge = merges.merge(ids[position], ids[position + 1]) { push(merge.rank, position) }
        }
        while let top = popMinimum() {
            let position = Int(top & 0xFFFF_FFFF)
            let right = Int(next[position])
            guard ids[position] >= 0, right >= 0, let merge = merges.merge(ids[position], ids[right]),
                merge.rank == UInt32(top >> 32)
            else { continue }
            ids[position] = merge.merged
            ids[right] = -1
            let after = Int(next[right])
            next[position] = Int32(after)
            if after >= 0 { previous[after] = Int32(position) }
            let before = Int(previous[position])
            if before >= 0, let left = merges.merge(ids[before], merge.merged) { push(left.rank, before) }
            if after >= 0, let following = merges.merge(merge.merged, ids[after]) { push(following.rank, position) }
        }
        for id in ids where id >= 0 { output.append(id) }
    }

    private mutating func push(_ rank: UInt32, _ position: Int) {
        heap.append(UInt64(rank) << 32 | UInt64(position))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child] < heap[parent] else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popMinimum() -> UInt64? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            let right = left + 1
            let smaller = right < heap.count && heap[right] < heap[left] ? right : left
            guard heap[smaller] < heap[parent] else { break }
            heap.swapAt(smaller, parent)
            parent = smaller
        }
        return top
    }
}

/// BPE results for pieces seen before, shared by every thread encoding with one tokenizer.
///
/// Sixteen shards chosen by hash, each behind its own `Mutex`, so threads encoding at once rarely wait for each
/// other. A shard that fills up is emptied and refilled: simpler than LRU, and the common pieces return at once.
final class PieceCache: Sendable {
    private let shards: [Shard] = (0..<16).map { _ in Shard() }

    /// Appends the cached ids of `piece` to `output`; `false` if the piece is not cached.
    func lookup(_ piece: UnsafeBufferPointer<UInt8>, hash: UInt64, appendingTo output: inout [Int32]) -> Bool {
        shards[Self.shard(hash)].state.withLock { state in
            guard let entry = state.pieces.find(piece, hash: hash).map(Int.init) else { return false }
            let range = state.idOffsets[entry]..<state.idOffsets[entry + 1]
            state.ids.withUnsafeBufferPointer { output.append(contentsOf: UnsafeBufferPointer(rebasing: $0[range])) }
            return true
        }
    }

    /// Records the ids of `piece`.
    func insert(_ piece: UnsafeBufferPointer<UInt8>, hash: UInt64, ids: ArraySlice<Int32>) {
        shards[Self.shard(hash)].state.withLock { state in
            if state.pieces.count >= Shard.capacity {
                state.pieces.removeAll()
                state.ids.removeAll(keepingCapacity: true)
                state.idOffsets.removeAll(keepingCapacity: true)
                state.idOffsets.append(0)
            }
            guard state.pieces.insert(piece, hash: hash, value: UInt32(state.pieces.count)).inserted else { return }
            state.ids.append(contentsOf: ids)
            state.idOffsets.append(state.ids.count)
        }
    }

    private static func shard(_ hash: UInt64) -> Int { Int(hash >> 60) }

    private final class Shard: Sendable {
        /// Pieces per shard before it is emptied.
        static let capacity = 4096

        struct State {
            var pieces = ByteStringTable(capacity: Shard.capacity)
            /// Entry `e`'s ids are `ids[idOffsets[e]..<idOffsets[e + 1]]`.
            var idOffsets: [Int] = [0]
            var ids: [Int32] = []
        }

        let state = Mutex(State())
    }
}
