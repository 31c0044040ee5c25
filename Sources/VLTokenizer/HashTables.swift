import Foundation

/// An open-addressing hash map from byte strings to 32-bit values, the keys stored back to back in one buffer.
///
/// Serves the vocabulary (token bytes → id) and the BPE piece cache. Lookups take a borrowed buffer, so a query
/// builds no `String` or `Array`. A slot holds 32 bits of the key's hash, the value and where the key lies, so a hit
/// touches one slot and one stretch of key bytes (tokenizer loading does millions of lookups into a table bigger
/// than the caches, so every dependent memory access counts).
struct ByteStringTable: Sendable {
    private struct Slot {
        /// The high half of the key's hash.
        var tag: UInt32
        var value: UInt32
        /// `UInt32.max` in an empty slot.
        var keyOffset: UInt32
        var keyLength: UInt32

        static let empty = Slot(tag: 0, value: 0, keyOffset: .max, keyLength: 0)
    }

    /// Keys of all entries, back to back.
    private var keyBytes: [UInt8] = []
    private var slots: [Slot]

    /// Number of entries.
    private(set) var count = 0

    /// An empty table sized for `capacity` entries before it first grows.
    init(capacity: Int) {
        var slotCount = 16
        while slotCount < capacity * 2 { slotCount *= 2 }
        slots = Array(repeating: .empty, count: slotCount)
    }

    /// The hash `find` and `insert` expect for `key`.
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // Eight bytes per multiply, the tail packed into one last word, then MurmurHash3's 64-bit finaliser so that
        // every key byte reaches the low bits (the slot) and the high bits (the tag).
        var hash = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        let raw = UnsafeRawBufferPointer(key)
        var index = 0
        while index + 8 <= key.count {
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            hash = hash << 31 | hash >> 33
            index += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < key.count {
            tail |= UInt64(key[index]) << shift
            shift += 8
            index += 1
        }
        hash ^= tail
        hash = (hash ^ (hash >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        hash = (hash ^ (hash >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return hash ^ (hash >> 33)
    }

    /// The value stored for `key`, if any; `hash` is `ByteStringTable.hash(key)`.
    func find(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64) -> UInt32? {
        let slot = probe(key, hash: hash)
        return slots[slot].keyOffset == .max ? nil : slots[slot].value
    }

    /// Stores `value` for `key` unless the key is present; returns the key's value and whether it was added.
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, value: UInt32) -> (
        value: UInt32, inserted: Bool
    ) {
        let slot = probe(key, hash: hash)
        if slots[slot].keyOffset != .max { return (slots[slot].value, false) }
        slots[slot] = Slot(
            tag: UInt32(truncatingIfNeeded: hash >> 32), value: value, keyOffset: UInt32(keyBytes.count),
            keyLength: UInt32(key.count))
        keyBytes.append(contentsOf: key)
        count += 1
        if count * 2 > slots.count { grow() }
        return (value, true)
    }

    /// Stores `value` for `key`, replacing any earlier value.
    mutating func set(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, value: UInt32) {
        let slot = probe(key, hash: hash)
        if slots[slot].keyOffset != .max {
            slots[slot].value = value
        } else {
            _ = insert(key, hash: hash, value: value)
        }
    }

    /// Calls `body` with every key and its value, in no particular order.
    func forEachEntry<Failure: Error>(
        _ body: (UnsafeBufferPointer<UInt8>, UInt32) throws(Failure) -> Void
    ) throws(Failure) {
        try keyBytes.withUnsafeBufferPointer { bytes throws(Failure) in
            for slot in slots where slot.keyOffset != .max {
                let start = Int(slot.keyOffset)
                try body(UnsafeBufferPointer(rebasing: bytes[start..<start + Int(slot.keyLength)]), slot.value)
            }
        }
    }

    /// Removes every entry, keeping the storage.
    mutating func removeAll() {
        keyBytes.removeAll(keepingCapacity: true)
        for index in slots.indices { slots[index] = .empty }
        count = 0
    }

    /// The slot holding `key`, or the empty slot where it would go.
    private func probe(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int {
        let tag = UInt32(truncatingIfNeeded: hash >> 32)
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        return keyBytes.withUnsafeBufferPointer { bytes in
            while true {
                let slot = slots[index]
                if slot.keyOffset == .max { return index }
                if slot.tag == tag && Int(slot.keyLength) == key.count
                    && (key.isEmpty
                        || memcmp(bytes.baseAddress! + Int(slot.keyOffset), key.baseAddress!, key.count) == 0)
                {
                    return index
                }
                index = (index + 1) & mask
            }
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: .empty, count: old.count * 2)
        let mask = slots.count - 1
        keyBytes.withUnsafeBufferPointer { bytes in
            for slot in old where slot.keyOffset != .max {
                let start = Int(slot.keyOffset)
                let hash = Self.hash(UnsafeBufferPointer(rebasing: bytes[start..<start + Int(slot.keyLength)]))
                var index = Int(truncatingIfNeeded: hash) & mask
                while slots[index].keyOffset != .max { index = (index + 1) & mask }
                slots[index] = slot
            }
        }
    }
}

/// The BPE merge rules: (left id, right id) → (rank, merged id), open addressing on the packed pair.
struct MergeTable: Sendable {
    /// What a pair of adjacent tokens merges into.
    struct Merge {
        /// Position in `model.merges`: lower ranks merge first.
        let rank: UInt32
        /// The id of the merged token.
        let merged: Int32
    }

    /// `(pair, rank << 32 | merged)` per slot; `pair` is `emptyKey` in an empty slot.
    private var slots: [(pair: UInt64, value: UInt64)]
    private let shift: UInt64
    private static let emptyKey = UInt64.max

    /// Number of rules.
    private(set) var count = 0

    /// A table sized for `capacity` rules (it does not grow).
    init(capacity: Int) {
        var bits: UInt64 = 4
        // At most two thirds full, so linear probes stay short.
        while (1 << bits) * 2 < capacity * 3 { bits += 1 }
        shift = 64 - bits
        slots = Array(repeating: (Self.emptyKey, 0), count: 1 << bits)
    }

    /// The rule for `left` followed by `right`, if any.
    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> Merge? {
        let pair = Self.pack(left, right)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: (pair &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let entry = slots[slot]
            if entry.pair == pair {
                return Merge(
                    rank: UInt32(truncatingIfNeeded: entry.value >> 32), merged: Int32(truncatingIfNeeded: entry.value))
            }
            if entry.pair == Self.emptyKey { return nil }
            slot = (slot + 1) & mask
        }
    }

    /// Sets the rule for `left` followed by `right`, replacing an earlier one (a later duplicate line wins, as in
    /// tokenizers, whose merges are collected into a hash map).
    mutating func set(_ left: Int32, _ right: Int32, rank: UInt32, merged: Int32) {
        let pair = Self.pack(left, right)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: (pair &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while slots[slot].pair != Self.emptyKey && slots[slot].pair != pair { slot = (slot + 1) & mask }
        if slots[slot].pair == Self.emptyKey { count += 1 }
        slots[slot] = (pair, UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged)))
    }

    private static func pack(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}
