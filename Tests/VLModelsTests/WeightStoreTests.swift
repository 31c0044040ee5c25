import Foundation
import TestSupport
import Testing
import VLCore

@testable import VLModels

/// A BF16 tensor whose elements are 0, 1, 2, ... (exact in bf16).
private func counting(_ name: String, _ shape: [Int]) -> SafeTensorsWriter.Tensor {
    let count = shape.reduce(1, *)
    let bits = (0..<count).map { UInt16(Float($0).bitPattern >> 16) }
    return SafeTensorsWriter.Tensor(name: name, dtype: "BF16", shape: shape, data: SafeTensorsWriter.bytes(bits))
}

/// Calls `body` with a store over a checkpoint holding `tensors`.
private func withStore<Result>(
    _ tensors: [SafeTensorsWriter.Tensor], ignoring ignored: [String] = [], _ body: (WeightStore) throws -> Result
) throws -> Result {
    try SafeTensorsWriter.withDirectory(["model.safetensors": SafeTensorsWriter.file(tensors)]) { path in
        let store = try WeightStore(
            directory: URL(fileURLWithPath: path), renames: Qwen2VLModel.legacyNames, ignoredPrefixes: ignored)
        return try body(store)
    }
}

@Suite("Weight store: names, shapes, strictness")
struct WeightStoreTests {
    @Test("legacy Hub names load under their transformers 5 spelling")
    func legacyNames() throws {
        let tensors = [
            counting("model.layers.0.mlp.up_proj.weight", [2, 3]), counting("model.embed_tokens.weight", [4, 3]),
            counting("model.norm.weight", [3]), counting("visual.blocks.0.norm1.weight", [3]),
            counting("lm_head.weight", [4, 3]),
        ]
        try withStore(tensors) { store in
            let norm = try store.floats("model.language_model.norm.weight", shape: [3])
            let visionNorm = try store.floats("model.visual.blocks.0.norm1.weight", shape: [3])
            #expect(norm == [0, 1, 2] && visionNorm == [0, 1, 2])
            #expect(store.contains("model.language_model.layers.0.mlp.up_proj.weight"))
            #expect(store.contains("model.language_model.embed_tokens.weight") && store.contains("lm_head.weight"))
            #expect(!store.contains("model.layers.0.mlp.up_proj.weight"))
        }
    }

    @Test("missing, mis-shaped and unused tensors are errors naming them")
    func strictness() throws {
        try withStore([counting("model.norm.weight", [3]), counting("extra.weight", [2])]) { store in
            #expect(throws: ModelError.missingTensor(directory: store.directory, tensor: "model.visual.x")) {
                _ = try store.floats("model.visual.x", shape: [3])
            }
            #expect(
                throws: ModelError.tensorShapeMismatch(
                    directory: store.directory, tensor: "model.norm.weight", expected: [4], actual: [3])
            ) { _ = try store.floats("model.language_model.norm.weight", shape: [4]) }
            _ = try store.floats("model.language_model.norm.weight", shape: [3])
            #expect(throws: ModelError.unusedTensors(directory: store.directory, tensors: ["extra.weight"])) {
                try store.finish()
            }
        }
    }

    @Test("ignored prefixes are never unused; both spellings of one tensor are an error")
    func ignoredAndDuplicates() throws {
        try withStore([counting("model.norm.weight", [3]), counting("mtp.fc.weight", [2])], ignoring: ["mtp."]) {
            store in
            _ = try store.floats("model.language_model.norm.weight", shape: [3])
            try store.finish()
        }
        #expect(throws: ModelError.self) {
            try withStore([counting("model.norm.weight", [3]), counting("model.language_model.norm.weight", [3])]) {
                _ in
            }
        }
    }

    @Test("matrices: a convolution kernel flattens to [out, in]; block formats need 32 columns, else stay bf16")
    func matrices() throws {
        let tensors = [counting("conv.weight", [2, 3, 2, 2, 2]), counting("wide.weight", [2, 64])]
        try withStore(tensors) { store in
            let conv = try store.matrix("conv.weight", shape: [2, 3, 2, 2, 2], format: .q8)
            #expect(conv.rows == 2 && conv.cols == 24 && conv.format == .bf16)
            #expect(conv.dequantized() == (0..<48).map(Float.init))
            let wide = try store.matrix("wide.weight", shape: [2, 64], format: .q8)
            #expect(wide.format == .q8 && wide.cols == 64)
        }
    }
}
