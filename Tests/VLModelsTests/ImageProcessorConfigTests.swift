import Foundation
import Testing

@testable import VLModels

@Suite struct ImageProcessorConfigTests {
    @Test func readsQwen2HubForm() throws {
        let json = """
            {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2,
             "merge_size": 2, "image_mean": [0.48145466, 0.4578275, 0.40821073],
             "image_std": [0.26862954, 0.26130258, 0.27577711], "image_processor_type": "Qwen2VLImageProcessor",
             "processor_class": "Qwen2VLProcessor"}
            """
        let config = try ImageProcessorConfig.decode(Data(json.utf8), path: "p.json")
        #expect(config.minPixels == 3136 && config.maxPixels == 12_845_056)
        #expect(config.factor == 28 && config.patchDimension == 1176)
    }

    @Test func readsQwen3SizeForm() throws {
        let json = """
            {"size": {"longest_edge": 16777216, "shortest_edge": 65536}, "patch_size": 16,
             "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
             "image_processor_type": "Qwen2VLImageProcessorFast"}
            """
        let config = try ImageProcessorConfig.decode(Data(json.utf8), path: "p.json")
        #expect(config.minPixels == 65536 && config.maxPixels == 16_777_216)
        #expect(config.factor == 32 && config.patchDimension == 1536)
    }

    @Test func topLevelPixelKeysOverrideSize() throws {
        let json = #"{"size": {"longest_edge": 9000000, "shortest_edge": 4000}, "max_pixels": 100000}"#
        let config = try ImageProcessorConfig.decode(Data(json.utf8), path: "p.json")
        #expect(config.maxPixels == 100_000 && config.minPixels == 4000)
    }

    @Test(arguments: [
        (#"{"patch_size": 0}"#, "patch_size"), (#"{"image_std": [0.5, 0, 0.5]}"#, "image_std"),
        (#"{"resample": 2}"#, "resample"), (#"{"min_pixels": 500, "max_pixels": 400}"#, "max_pixels"),
        (#"{"image_mean": [0.5]}"#, "image_mean"), (#"{"do_resize": false}"#, "do_resize"),
    ])
    func invalidValuesNameTheKey(json: String, key: String) {
        #expect {
            try ImageProcessorConfig.decode(Data(json.utf8), path: "cfg/preprocessor_config.json")
        } throws: { error in
            guard case ModelError.invalidConfigValue(let path, let reportedKey, _) = error else { return false }
            return path == "cfg/preprocessor_config.json" && reportedKey == key
        }
    }

    @Test func malformedJSONNamesTheFileAndKey() {
        #expect {
            try ImageProcessorConfig.decode(Data(#"{"patch_size": "fourteen"}"#.utf8), path: "p.json")
        } throws: { error in
            "\(error)".contains("p.json") && "\(error)".contains("patch_size")
        }
    }

    @Test func missingFileSaysWhere() {
        let directory = URL(fileURLWithPath: "/nonexistent/model")
        #expect(throws: ModelError.missingFile(path: "/nonexistent/model/preprocessor_config.json")) {
            try ImageProcessorConfig.load(directory: directory)
        }
    }
}
