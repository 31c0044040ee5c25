import Testing

@testable import VLModels

@Suite struct VisualTokenBudgetTests {
    let qwen2 = ImageProcessorConfig.transformersDefaults

    @Test func tokenCapBecomesPixelCapAndTighterWins() throws {
        let byTokens = try VisualTokenBudget(maxImageTokens: 64).applied(to: qwen2)
        #expect(byTokens.maxPixels == 64 * 28 * 28)
        let both = try VisualTokenBudget(maxPixels: 10_000, maxImageTokens: 64).applied(to: qwen2)
        #expect(both.maxPixels == 10_000)
    }

    @Test func capBelowCheckpointFloorLowersTheFloor() throws {
        var qwen3 = qwen2
        qwen3.patchSize = 16
        qwen3.minPixels = 65536
        let config = try VisualTokenBudget(maxImageTokens: 16).applied(to: qwen3)
        #expect(config.maxPixels == 16 * 32 * 32 && config.minPixels == config.maxPixels)
    }

    @Test(arguments: [
        VisualTokenBudget(minPixels: 0), VisualTokenBudget(maxPixels: 100), VisualTokenBudget(maxImageTokens: 0),
        VisualTokenBudget(minPixels: 50_000, maxPixels: 40_000),
    ])
    func rejectsContradictoryBudgets(budget: VisualTokenBudget) {
        #expect(throws: ModelError.self) { try budget.applied(to: qwen2) }
    }

    @Test func budgetChangesTheTokenCount() throws {
        let config = try VisualTokenBudget(maxImageTokens: 100).applied(to: qwen2)
        let size = try QwenImageProcessor(config: config).targetSize(width: 1920, height: 1080, source: "x.jpg")
        #expect((size.width / 28) * (size.height / 28) <= 100)
    }
}
