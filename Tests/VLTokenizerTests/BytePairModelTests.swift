import Testing

@testable import VLTokenizer

/// The BPE model: merge forms, merge order, `ignore_merges`.
@Suite struct BytePairModelTests {
    /// Both spellings of `model.merges` load to the same rules (ids from HF tokenizers 0.23.3).
    @Test(arguments: TinyTokenizer.MergeForm.allCases)
    func mergeForms(form: TinyTokenizer.MergeForm) throws {
        let tokenizer = try TinyTokenizer.load(TinyTokenizer.document(mergeForm: form))
        #expect(tokenizer.encode("hello world aaa") == [259, 260, 111, 114, 108, 100, 32, 261, 97])
        // Equal ranks go left first: `aaa` is `aa a`, `aaaa` is `aa aa`.
        #expect(tokenizer.encode("aaaa aaa") == [261, 261, 32, 261, 97])
    }

    /// With `ignore_merges`, a piece that is a vocabulary token is that token even where the merges would not make
    /// it (`llo` has no merge path: `l l` comes first and leaves `ll o`).
    @Test(arguments: [(false, [257, 111, 32, 259] as [Int32]), (true, [263, 32, 259])])
    func ignoreMerges(ignore: Bool, expected: [Int32]) throws {
        var document = TinyTokenizer.document()
        var vocab = (document["model"] as! [String: Any])["vocab"] as! [String: Int]
        vocab["llo"] = 263
        document.set("model.vocab", vocab)
        document.set("model.ignore_merges", ignore)
        #expect(try TinyTokenizer.load(document).encode("llo hello") == expected)
    }

    /// The heap-driven merge loop equals the textbook one (merge the lowest-ranked adjacent pair, leftmost first,
    /// until none is left) on every distinct piece of the corpus and on random bytes, with Qwen2's 151 k merges.
    @Test func mergeLoopEqualsTextbookBPE() {
        let splitter = PieceSplitter.qwen(QwenPatternScanner(marksJoinLetters: false))
        var pieces = Set<[UInt8]>()
        for var text in TokenizerFixtures.corpus {
            text.withUTF8 { bytes in
                splitter.forEachPiece(in: bytes) { pieces.insert(Array(bytes[$0])) }
            }
        }
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<500 {
            let count = Int.random(in: 2...24, using: &generator)
            pieces.insert((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        let model = TokenizerFixtures.qwen2.model
        var workspace = MergeWorkspace()
        for piece in pieces where piece.count > 1 {
            var fast: [Int32] = []
            piece.withUnsafeBufferPointer {
                workspace.merge($0, byteIDs: model.byteIDs, merges: model.merges, into: &fast)
            }
            #expect(fast == Self.textbookMerge(piece, model), "\(piece)")
        }
    }

    private static func textbookMerge(_ piece: [UInt8], _ model: BytePairModel) -> [Int32] {
        var symbols = piece.map { model.byteIDs[Int($0)] }
        while true {
            var best: (rank: UInt32, position: Int, merged: Int32)?
            for position in 0..<symbols.count - 1 {
                if let merge = model.merges.merge(symbols[position], symbols[position + 1]),
                    best == nil || merge.rank < best!.rank
                {
                    best = (merge.rank, position, merge.merged)
                }
            }
            guard let best else { return symbols }
            symbols[best.position] = best.merged
            symbols.remove(at: best.position + 1)
        }
    }
}

/// A deterministic random generator (SplitMix64), so that random tests repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
