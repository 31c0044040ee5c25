import Foundation
import Testing
import VLEngine
import VLModels

@Suite struct SamplingParametersTests {
    private func config(_ json: String) throws -> GenerationConfig {
        try JSONDecoder().decode(GenerationConfig.self, from: Data(json.utf8))
    }

    @Test func emptyConfigGivesTransformersDefaults() throws {
        let parameters = try SamplingParameters(generationConfig: GenerationConfig())
        #expect(parameters == .greedy)
        #expect(!parameters.doSample)
        #expect(parameters.temperature == 1 && parameters.topK == 50 && parameters.topP == 1)
        #expect(parameters.minP == 0 && parameters.repetitionPenalty == 1 && parameters.seed == 0)
        #expect(parameters.processors.isEmpty)
    }

    /// Qwen3-VL's generation_config.json samples; Qwen2-VL's is greedy with a repetition penalty.
    @Test func checkpointConfigsAreRead() throws {
        let qwen3 = try SamplingParameters(
            generationConfig: config(#"{"do_sample": true, "temperature": 0.7, "top_k": 20, "top_p": 0.8}"#))
        #expect(qwen3.doSample && qwen3.temperature == 0.7 && qwen3.topK == 20 && qwen3.topP == 0.8)
        #expect(qwen3.processors == [.temperature, .topK, .topP])

        let qwen2 = try SamplingParameters(
            generationConfig: config(#"{"repetition_penalty": 1.05, "temperature": 0.01, "top_k": 1}"#))
        #expect(!qwen2.doSample && qwen2.repetitionPenalty == 1.05)
        #expect(qwen2.processors == [.repetitionPenalty])
    }

    @Test func overridesWinOverTheCheckpoint() throws {
        let checkpoint = try config(#"{"do_sample": true, "temperature": 0.7, "top_k": 20, "top_p": 0.8}"#)
        let parameters = try SamplingParameters(
            generationConfig: checkpoint,
            overrides: SamplingOverrides(temperature: 1.2, topK: 0, minP: 0.05, repetitionPenalty: 1.1, seed: 42))
        #expect(parameters.doSample && parameters.temperature == 1.2 && parameters.topK == 0)
        #expect(parameters.topP == 0.8 && parameters.minP == 0.05 && parameters.repetitionPenalty == 1.1)
        #expect(parameters.seed == 42)
        #expect(parameters.processors == [.repetitionPenalty, .temperature, .topP, .minP])

        let greedy = try SamplingParameters(generationConfig: checkpoint, overrides: SamplingOverrides(doSample: false))
        #expect(greedy.processors.isEmpty)
    }

    @Test(arguments: [
        ("temperature", SamplingOverrides(doSample: true, temperature: 0)),
        ("temperature", SamplingOverrides(doSample: true, temperature: -1)),
        ("temperature", SamplingOverrides(temperature: -0.5)),
        ("temperature", SamplingOverrides(doSample: true, temperature: .infinity)),
        ("top_k", SamplingOverrides(topK: -1)),
        ("top_p", SamplingOverrides(topP: 0)),
        ("top_p", SamplingOverrides(topP: 1.01)),
        ("top_p", SamplingOverrides(topP: .nan)),
        ("min_p", SamplingOverrides(minP: -0.1)),
        ("min_p", SamplingOverrides(minP: 1.5)),
        ("repetition_penalty", SamplingOverrides(repetitionPenalty: 0)),
        ("repetition_penalty", SamplingOverrides(repetitionPenalty: -1.1)),
    ])
    func outOfRangeValuesAreRejected(name: String, overrides: SamplingOverrides) {
        #expect {
            try SamplingParameters(generationConfig: GenerationConfig(), overrides: overrides)
        } throws: { error in
            guard case .invalidParameter(let parameter, _, let reason) = error as? SamplingError else { return false }
            return parameter == name && !reason.isEmpty
        }
    }

    @Test func rejectionSaysWhatToDo() {
        #expect(throws: SamplingError.self) { try SamplingParameters(doSample: true, temperature: 0) }
        do {
            _ = try SamplingParameters(doSample: true, temperature: 0)
        } catch {
            #expect(error.description.contains("temperature = 0.0"))
            #expect(error.description.contains("set do_sample to false"))
        }
    }

    /// Greedy decoding accepts temperature 0 (how many tools spell greedy) and the boundary values.
    @Test func boundaryValuesAreAccepted() throws {
        _ = try SamplingParameters(doSample: false, temperature: 0)
        _ = try SamplingParameters(
            doSample: true, temperature: 1e-3, topK: 0, topP: 1, minP: 1, repetitionPenalty: 1e-3)
        _ = try SamplingParameters(doSample: true, topP: 1e-9, minP: 0)
    }

    @Test func codableFormUsesGenerationConfigKeysAndValidates() throws {
        let parameters = try SamplingParameters(
            doSample: true, temperature: 0.7, topK: 20, topP: 0.8, minP: 0.05, repetitionPenalty: 1.05, seed: 9)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(parameters), as: UTF8.self)
        #expect(
            json == #"{"do_sample":true,"min_p":0.05,"repetition_penalty":1.05,"seed":9,"temperature":0.7,"#
                + #""top_k":20,"top_p":0.8}"#)
        #expect(try JSONDecoder().decode(SamplingParameters.self, from: Data(json.utf8)) == parameters)

        let bad = json.replacingOccurrences(of: #""top_p":0.8"#, with: #""top_p":2"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SamplingParameters.self, from: Data(bad.utf8)) }
    }

    @Test func errorMessageNamesTheParameter() {
        let error = SamplingError.invalidParameter(name: "top_p", value: "1.5", reason: "must lie in (0, 1]")
        #expect(error.description == "sampling parameter top_p = 1.5: must lie in (0, 1]")
    }
}
