import Foundation
import Testing

@testable import VLPipeline

/// Validation of pipeline definitions and overrides, before any work.
@Suite struct DefinitionTests {
    struct Invoice: Decodable {
        var vendor: String
        var total: Double?
        var items: Int
        var paid: Bool
    }

    struct Nested: Decodable {
        var vendor: String
        var address: [String]
    }

    static func plan(
        _ overrides: PipelineOverrides = PipelineOverrides(), @PipelineBuilder _ body: () -> PipelineDefinition
    )
        throws(PipelineError) -> PipelinePlan
    {
        try PipelinePlan(name: "test", version: "1", definition: body(), overrides: overrides)
    }

    /// Each broken definition is refused with a message that names the fix.
    @Test(arguments: [
        (
            "no input stage",
            PipelineDefinition {
                Prompt("x")
                Generate()
            }
        ),
        (
            "no task stage",
            PipelineDefinition {
                Inputs.images()
                Prompt("x")
            }
        ),
        (
            "more than one task",
            PipelineDefinition {
                Inputs.images()
                Prompt("x")
                Generate()
                Generate()
            }
        ),
        (
            "Generate needs a Prompt",
            PipelineDefinition {
                Inputs.images()
                Generate()
            }
        ),
        (
            "remove the Prompt stage",
            PipelineDefinition {
                Inputs.images()
                Prompt("x")
                Classify(labels: ["a"], question: "q")
            }
        ),
        (
            "at least one label",
            PipelineDefinition {
                Inputs.images()
                Classify(labels: [], question: "q")
            }
        ),
        (
            "\"a\" twice",
            PipelineDefinition {
                Inputs.images()
                Classify(labels: ["a", "a"], question: "q")
            }
        ),
        (
            "uses {name}",
            PipelineDefinition {
                Inputs.images()
                Prompt(template: "{name}")
                Generate()
            }
        ),
        (
            "use Inputs.text()",
            PipelineDefinition {
                Inputs.images()
                Prompt(template: "{text}")
                Generate()
            }
        ),
        (
            "overwrite text inputs",
            PipelineDefinition {
                Inputs.text()
                Prompt("x")
                Generate()
                Output.sidecarText()
            }
        ),
        (
            "must come after the task",
            PipelineDefinition {
                Inputs.images()
                Prompt("x")
                Map { $0 }
                Generate()
            }
        ),
        (
            "must come before the task",
            PipelineDefinition {
                Inputs.images()
                Prompt("x")
                Generate()
                Filter { _ in true }
            }
        ),
        (
            "property address has type",
            PipelineDefinition {
                Inputs.images()
                Extract(Nested.self)
            }
        ),
        (
            "at least 1",
            PipelineDefinition {
                Inputs.images()
                Prompt("x")
                Generate(maxTokens: 0)
            }
        ),
    ])
    func invalidDefinitionsAreRefused(expected: String, definition: PipelineDefinition) {
        #expect {
            try PipelinePlan(name: "test", version: "1", definition: definition, overrides: PipelineOverrides())
        } throws: { error in
            "\(error)".contains(expected) && "\(error)".hasPrefix("pipeline test:")
        }
    }

    @Test func overridesReplaceThePipelinesSettingsAndAreChecked() throws {
        var overrides = PipelineOverrides()
        overrides.maxTokens = 9
        overrides.temperature = 0.7
        overrides.imageBudget.maxImageTokens = 128
        let plan = try Self.plan(overrides) {
            Inputs.images()
            Prompt("x")
            Generate(maxTokens: 64)
            Sampling(temperature: 0, seed: 5)
            ImageBudget(maxImageTokens: 1024, maxPixels: 1_000_000)
        }
        #expect(plan.task == .generate(maxTokens: 9))
        #expect(plan.sampling == Sampling(temperature: 0.7, topP: 1, seed: 5))
        #expect(plan.imageBudget == ImageBudget(maxImageTokens: 128, maxPixels: 1_000_000))
    }

    /// Overrides that contradict each other or the task are refused.
    @Test(arguments: [
        Self.overrides { $0.imageBudget = ImageBudget(minPixels: 500, maxPixels: 100) },
        Self.overrides { $0.imageBudget = ImageBudget(maxImageTokens: 0) },
        Self.overrides { $0.topP = 0 },
        Self.overrides { $0.temperature = -1 },
    ])
    func invalidOverridesAreRefused(overrides: PipelineOverrides) {
        #expect(throws: PipelineError.self) {
            try Self.plan(overrides) {
                Inputs.images()
                Prompt("x")
                Generate()
            }
        }
    }

    @Test func maxTokensIsForGenerationOnly() {
        #expect {
            try Self.plan(Self.overrides { $0.maxTokens = 3 }) {
                Inputs.images()
                Classify(labels: ["a"], question: "q")
            }
        } throws: {
            "\($0)".contains("--max-tokens")
        }
    }

    static func overrides(_ change: (inout PipelineOverrides) -> Void) -> PipelineOverrides {
        var overrides = PipelineOverrides()
        change(&overrides)
        return overrides
    }

    @Test func extractFieldsComeFromACodableType() throws {
        let plan = try Self.plan {
            Inputs.files(.images, .text)
            Extract(Invoice.self)
        }
        guard case .extract(let fields, _) = plan.task else {
            Issue.record("expected an extraction")
            return
        }
        #expect(
            fields == [
                ExtractField("vendor"), ExtractField("total", .number, optional: true), ExtractField("items", .integer),
                ExtractField("paid", .boolean),
            ])
        #expect(plan.inputKinds == [.images, .text])
    }

    @Test func templatesAreFilledPerItem() throws {
        let plan = try Self.plan {
            Inputs.text()
            Prompt(template: "{file_name} at {path}: {text}")
            Generate()
        }
        let item = InputItem(id: "a/b.txt", url: URL(fileURLWithPath: "/in/a/b.txt"), kind: .text)
        #expect(plan.prompt.render(item: item, text: "hello") == "b.txt at a/b.txt: hello")
        #expect(PromptTemplate(text: "{path}", isTemplate: false).render(item: item, text: nil) == "{path}")
    }

    /// The fingerprint follows what changes results (prompt, model, sampling, budget, shard) and nothing else.
    @Test func fingerprintsFollowTheJob() throws {
        let model = ModelIdentity(name: "m", revision: "r1")
        let base = try Self.plan {
            Inputs.images()
            Prompt("x")
            Generate()
        }
        let same = try Self.plan {
            Inputs.images()
            Prompt("x")
            Generate()
        }
        let otherPrompt = try Self.plan {
            Inputs.images()
            Prompt("y")
            Generate()
        }
        var overrides = PipelineOverrides()
        overrides.seed = 1
        let otherSeed = try Self.plan(overrides) {
            Inputs.images()
            Prompt("x")
            Generate()
        }
        let fingerprint = base.fingerprint(model: model, shard: nil)
        #expect(same.fingerprint(model: model, shard: nil).hash == fingerprint.hash)
        #expect(fingerprint.hash.count == 16)
        let others = [
            otherPrompt.fingerprint(model: model, shard: nil), otherSeed.fingerprint(model: model, shard: nil),
            base.fingerprint(model: ModelIdentity(name: "m", revision: "r2"), shard: nil),
            base.fingerprint(model: model, shard: try Shard(index: 0, count: 2)),
        ]
        #expect(Set(others.map(\.hash) + [fingerprint.hash]).count == 5)
        #expect(others[0].differences(from: fingerprint) == [#"prompt: "x" -> "y""#])
    }
}
