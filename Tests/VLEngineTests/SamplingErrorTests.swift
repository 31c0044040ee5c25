import Testing

@testable import VLEngine

@Suite struct SamplingErrorTests {
    @Test func messageNamesTheParameterAndTheRange() {
        let error = SamplingError.invalidParameter(name: "top_p", value: "1.5", reason: "must lie in (0, 1]")
        #expect(error.description == "sampling parameter top_p = 1.5: must lie in (0, 1]")
    }
}
