/// The 3-D (temporal, height, width) rotary positions of a prompt: transformers' `get_rope_index` for images
/// (qwen-architecture.md §4.2).
///
/// Text tokens advance all three axes together. The tokens of one image (its `<|image_pad|>` run) share the
/// temporal position and take the row and column of their merged patch on the other two; after the image the
/// position resumes at one past the largest it used. Decoding continues from `nextPosition`, the same on every axis.
public struct MultimodalPositions: Sendable, Equatable {
    /// Temporal-axis positions, one per token.
    public var temporal: [Int]
    /// Height-axis positions.
    public var height: [Int]
    /// Width-axis positions.
    public var width: [Int]

    /// Tokens covered.
    public var count: Int { temporal.count }

    /// The position of the first token after the prompt (all axes); transformers' `rope_delta` is
    /// `nextPosition - count`.
    public let nextPosition: Int

    /// `rope_delta`: added to a token's index in the stream to get its position during decoding.
    public var ropeDelta: Int { nextPosition - count }

    /// Positions for `tokens`, in which each image `i` of `grids` occupies a run of
    /// `grids[i].patchCount / mergeSize²` consecutive `imageTokenID` tokens, in order.
    ///
    /// - Throws: `ModelError.invalidInput` when the image-token runs do not match the grids.
    public init(tokens: [Int32], imageTokenID: Int32, grids: [PatchGrid], mergeSize: Int) throws(ModelError) {
        var temporal: [Int] = []
        var height: [Int] = []
        var width: [Int] = []
        temporal.reserveCapacity(tokens.count)
        height.reserveCapacity(tokens.count)
        width.reserveCapacity(tokens.count)
        var next = 0
        var index = 0
        var image = 0
        while index < tokens.count {
            guard tokens[index] == imageTokenID else {
                temporal.append(next)
                height.append(next)
                width.append(next)
                next += 1
                index += 1
                continue
            }
            guard image < grids.count else {
                throw .invalidInput(reason: "the prompt has more image-token runs than the \(grids.count) image(s)")
            }
            let grid = grids[image]
            let (rows, cols) = (grid.height / mergeSize, grid.width / mergeSize)
            let runLength = grid.temporal * rows * cols
            guard index + runLength <= tokens.count,
                tokens[index..<(index + runLength)].allSatisfy({ $0 == imageTokenID })
            else {
                throw .invalidInput(
                    reason: "image \(image + 1) needs \(runLength) consecutive image tokens at token \(index)")
            }
            for frame in 0..<grid.temporal {
                for row in 0..<rows {
                    for col in 0..<cols {
                        temporal.append(next + frame)
                        height.append(next + row)
                        width.append(next + col)
                    }
                }
            }
            next += max(grid.temporal, rows, cols)
            index += runLength
            image += 1
            if index < tokens.count, tokens[index] == imageTokenID {
                throw .invalidInput(reason: "image \(image) has more image tokens than its grid needs")
            }
        }
        guard image == grids.count else {
            throw .invalidInput(reason: "\(grids.count) image(s) given but the prompt has \(image) image-token run(s)")
        }
        self.temporal = temporal
        self.height = height
        self.width = width
        nextPosition = next
    }
}

/// The (temporal, height, width) positions of the rows of one forward pass, which may mix sequences.
public struct MultimodalPositionRows: Sendable, Equatable {
    /// Temporal positions, one per row.
    public var temporal: [Int] = []
    /// Height positions.
    public var height: [Int] = []
    /// Width positions.
    public var width: [Int] = []

    /// No rows yet.
    public init() {}

    /// Rows.
    public var count: Int { temporal.count }

    /// Appends the positions of a prompt's rows `range` (all of them by default).
    public mutating func append(_ prompt: MultimodalPositions, range: Range<Int>? = nil) {
        let range = range ?? 0..<prompt.count
        temporal += prompt.temporal[range]
        height += prompt.height[range]
        width += prompt.width[range]
    }

    /// Appends one decoding row at `position` on every axis.
    public mutating func append(position: Int) {
        temporal.append(position)
        height.append(position)
        width.append(position)
    }
}
