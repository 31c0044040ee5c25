import Foundation
import Testing

@testable import VLModels

@Suite("3-D rotary positions (get_rope_index)")
struct MultimodalPositionsTests {
    /// The worked example of qwen-architecture.md §4.2, with a 448×448 image on Qwen3-VL (grid 28×28, 196 tokens):
    /// four tokens before the image, nine after.
    @Test("an image between text tokens")
    func workedExample() throws {
        let image: Int32 = 99
        let tokens: [Int32] = [1, 2, 3, 4] + Array(repeating: image, count: 196) + Array(1...9)
        let positions = try MultimodalPositions(
            tokens: tokens, imageTokenID: image, grids: [PatchGrid(temporal: 1, height: 28, width: 28)], mergeSize: 2)
        #expect(positions.count == 209)
        #expect(Array(positions.temporal[0..<4]) == [0, 1, 2, 3])
        #expect(positions.temporal[4..<200].allSatisfy { $0 == 4 })
        #expect(positions.height[4] == 4 && positions.width[4] == 4)
        #expect(positions.height[4 + 13] == 4 && positions.width[4 + 13] == 17)
        #expect(positions.height[4 + 14] == 5 && positions.width[4 + 14] == 4)
        #expect(positions.height[199] == 17 && positions.width[199] == 17)
        #expect(positions.temporal[200] == 18 && positions.height[200] == 18 && positions.width[200] == 18)
        #expect(positions.temporal[208] == 26)
        #expect(positions.nextPosition == 27)
        #expect(positions.ropeDelta == 27 - 209)
    }

    @Test("a wide image advances by its larger side; text-only prompts count up")
    func wideImageAndText() throws {
        let image: Int32 = 7
        let tokens: [Int32] = [1] + Array(repeating: image, count: 6) + [2]
        let positions = try MultimodalPositions(
            tokens: tokens, imageTokenID: image, grids: [PatchGrid(temporal: 1, height: 4, width: 6)], mergeSize: 2)
        #expect(positions.height == [0, 1, 1, 1, 2, 2, 2, 4])
        #expect(positions.width == [0, 1, 2, 3, 1, 2, 3, 4])
        #expect(positions.nextPosition == 5)
        let text = try MultimodalPositions(tokens: [4, 5, 6], imageTokenID: image, grids: [], mergeSize: 2)
        #expect(text.temporal == [0, 1, 2] && text.nextPosition == 3 && text.ropeDelta == 0)
    }

    @Test(
        "image tokens that do not match the grids are errors",
        arguments: [
            ([1, 7, 7, 7, 2], [PatchGrid(temporal: 1, height: 4, width: 4)]),  // 3 tokens, 4 needed
            ([1, 7, 7, 7, 7, 7, 2], [PatchGrid(temporal: 1, height: 4, width: 4)]),  // 5 tokens
            ([1, 7, 7, 7, 7], []),  // no image given
            ([1, 2], [PatchGrid(temporal: 1, height: 2, width: 2)]),  // image given, no tokens
        ] as [([Int32], [PatchGrid])])
    func mismatches(tokens: [Int32], grids: [PatchGrid]) {
        #expect(throws: ModelError.self) {
            _ = try MultimodalPositions(tokens: tokens, imageTokenID: 7, grids: grids, mergeSize: 2)
        }
    }
}

@Suite("M-RoPE frequency layout")
struct MultimodalRotaryTests {
    /// Reads back which axis each frequency follows by giving the three axes positions whose angles differ.
    private func axes(_ rotary: MultimodalRotary) -> [Int] {
        let half = rotary.rotaryDim / 2
        var cos = [Float](repeating: 0, count: rotary.rotaryDim)
        var sin = [Float](repeating: 0, count: rotary.rotaryDim)
        var result = [Int](repeating: -1, count: half)
        for axis in 0..<3 {
            let position = [(1, 0, 0), (0, 1, 0), (0, 0, 1)][axis]
            rotary.fill(temporal: position.0, height: position.1, width: position.2, cos: &cos, sin: &sin)
            for i in 0..<half where sin[i] != 0 {
                #expect(result[i] == -1, "frequency \(i) follows two axes")
                result[i] = axis
                #expect(sin[i + half] == sin[i] && cos[i + half] == cos[i])
            }
        }
        return result
    }

    @Test("Qwen2-VL chunks [16, 24, 24]")
    func chunked() {
        let rotary = MultimodalRotary(rotaryDim: 128, theta: 1e6, section: [16, 24, 24], layout: .chunked)
        #expect(
            axes(rotary) == Array(repeating: 0, count: 16) + Array(repeating: 1, count: 24)
                + Array(repeating: 2, count: 24))
    }

    @Test("Qwen3-VL interleaves [24, 20, 20]; Qwen3.5 [11, 11, 10]")
    func interleaved() {
        let qwen3 = axes(MultimodalRotary(rotaryDim: 128, theta: 5e6, section: [24, 20, 20], layout: .interleaved))
        #expect(Array(qwen3[0..<6]) == [0, 1, 2, 0, 1, 2] && Array(qwen3[60...]) == [0, 0, 0, 0])
        #expect(qwen3.filter { $0 == 1 }.count == 20 && qwen3.filter { $0 == 2 }.count == 20)
        let qwen35 = axes(MultimodalRotary(rotaryDim: 64, theta: 1e7, section: [11, 11, 10], layout: .interleaved))
        #expect(qwen35.filter { $0 == 0 }.count == 11 && qwen35.filter { $0 == 1 }.count == 11)
        #expect(qwen35[31] == 1 && qwen35[30] == 0 && qwen35[29] == 2)
    }

    @Test("angles are position × 1 / θ^(2i/D) in fp32")
    func angles() {
        let rotary = MultimodalRotary(rotaryDim: 8, theta: 10_000, section: [4, 0, 0], layout: .chunked)
        var cos = [Float](repeating: 0, count: 8)
        var sin = [Float](repeating: 0, count: 8)
        rotary.fill(temporal: 3, height: 0, width: 0, cos: &cos, sin: &sin)
        for i in 0..<4 {
            let inverse = 1 / Float(Foundation.pow(10_000.0, Double(Float(2 * i) / 8)))
            #expect(sin[i] == Foundation.sin(3 * inverse) && cos[i] == Foundation.cos(3 * inverse))
        }
    }
}
