import Foundation
import Testing
import VLPipeline

@testable import vlbatch

/// The whole chain on the bundled demo model — decode, preprocess, vision tower, decoder, label scoring, pipeline,
/// JSONL — gives the right answers on `Samples/Demo`, and the same as transformers.
@Suite struct DemoModelTests {
    static let root = CommandRunner.repositoryRoot
    static let demoModel = root.appendingPathComponent("Samples/Models/vlbatch-demo-qwen3.5").path

    /// `Samples/Demo/expected.jsonl` (the truth) and `reference-transformers.jsonl` (transformers' greedy answers and
    /// prompt ids), keyed by file name.
    struct Answers {
        var expected: [String: [String: Any]] = [:]
        /// Per task (`caption`, `kind`, `kind-question-first`, ...), per file name.
        var reference: [String: [String: [String: Any]]] = [:]

        init() throws {
            for record in try Self.lines("expected.jsonl") {
                expected[Self.fileName(record)] = record
            }
            for record in try Self.lines("reference-transformers.jsonl") {
                reference[record["task"] as! String, default: [:]][Self.fileName(record)] = record
            }
        }

        static func lines(_ name: String) throws -> [[String: Any]] {
            try RunFixture.records(
                String(contentsOf: root.appendingPathComponent("Samples/Demo/\(name)"), encoding: .utf8))
        }

        static func fileName(_ record: [String: Any]) -> String {
            URL(fileURLWithPath: record["file"] as! String).lastPathComponent
        }
    }

    /// The `vlbatch run` invocations of `tools/demo.sh`, the README's main command.
    static func demoInvocations() throws -> [[String]] {
        let script = try String(contentsOf: root.appendingPathComponent("tools/demo.sh"), encoding: .utf8)
        return script.split(separator: "\n").filter { $0.hasPrefix("\"$vlbatch\" run ") }
            .map { $0.split(separator: " ").dropFirst().map(String.init) }
    }

    /// The README's main command: no `--model`, so the demo model answers; every caption is transformers' and every
    /// document kind is right. The demo model makes one mistake on these files (scene-08: "One yellow square and two
    /// yellow triangles." for three yellow triangles), and so does transformers: vlbatch must make it too.
    @Test func readmeMainCommandAnswersTheSamples() throws {
        let answers = try Answers()
        let invocations = try Self.demoInvocations()
        #expect(invocations.map { $0[1] } == ["caption-images", "classify-documents"])
        var captions = 0
        var kinds = 0
        var wrongCaptions: [String] = []
        for arguments in invocations {
            let result = try RunFixture.run(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("using the bundled demo model"))
            for record in try RunFixture.records(result.stdout) {
                let file = URL(fileURLWithPath: record["id"] as! String).lastPathComponent
                #expect(record["model"] as? String == Self.demoModel)
                let expected = try #require(answers.expected[file], "\(file)")
                if let text = record["text"] as? String {
                    let reference = try #require(answers.reference["caption"]?[file])
                    #expect(text == reference["answer"] as? String, "\(file)")
                    if text != expected["caption"] as? String { wrongCaptions.append(file) }
                    captions += 1
                } else {
                    #expect(record["label"] as? String == expected["kind"] as? String, "\(file)")
                    #expect(try #require(record["probability"] as? Double) > 0.9, "\(file)")
                    kinds += 1
                }
            }
        }
        #expect(captions == 16 && kinds == 16)
        #expect(wrongCaptions == ["scene-08.png"])
    }

    /// Scenes are not documents: `classify-documents` says "other" for each.
    @Test func scenesAreClassifiedAsOther() throws {
        let result = try RunFixture.run(["run", "classify-documents", "Samples/Demo/scenes", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let labels = try RunFixture.records(result.stdout).map { $0["label"] as? String }
        #expect(labels == Array(repeating: "other", count: 8))
    }

    /// Extraction is constrained to the declared object: the demo model was never trained to extract, yet every answer
    /// is the JSON object of the pipeline's fields and no item gets an `invalidExtraction` error.
    @Test func extractionAlwaysGivesTheDeclaredObject() throws {
        let result = try RunFixture.run(["run", "extract-fields", "Samples/Demo/documents", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let records = try RunFixture.records(result.stdout)
        #expect(records.count == 8)
        for record in records {
            #expect(record["error"] == nil)
            let fields = try #require(record["fields"] as? [String: Any])
            #expect(Set(fields.keys) == ["vendor", "date", "total", "currency"])
            #expect(fields["total"] is NSNumber || fields["total"] is NSNull)
        }
    }

    /// The prompts are transformers' token for token: images first, then the question; a text file's content after
    /// the question and a blank line.
    @Test func promptsAreTransformersPrompts() throws {
        let answers = try Answers()
        for (pipeline, task, folders) in [
            ("caption-images", "caption", ["scenes", "documents"]),
            ("classify-documents", "kind", ["scenes", "documents"]),
            ("classify-documents", "kind-question-first", ["texts"]),
        ] {
            let plan = try PipelineCatalog.find(pipeline).plan()
            let engine = try ModelEngine(
                directory: URL(fileURLWithPath: Self.demoModel), identity: ModelIdentity(name: "demo", revision: "1"),
                plan: plan, options: ModelEngine.Options(threads: 1), warn: { Issue.record("warning: \($0)") })
            for folder in folders {
                let directory = Self.root.appendingPathComponent("Samples/Demo/\(folder)")
                for file in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() {
                    let url = directory.appendingPathComponent(file)
                    let isText = url.pathExtension == "txt"
                    let item = InputItem(id: file, url: url, kind: isText ? .text : .images)
                    let request = EngineRequest(
                        item: item, text: isText ? try String(contentsOf: url, encoding: .utf8) : nil,
                        prompt: plan.prompt.text, task: plan.task, sampling: plan.sampling,
                        imageBudget: plan.imageBudget)
                    let reference = try #require(answers.reference[task]?[file])
                    #expect(try engine.prepare(request).tokens == (reference["prompt_ids"] as! [Int]).map { Int32($0) })
                }
            }
        }
    }

    /// An item whose deadline has passed ends with the time-limit error, not an answer.
    @Test func anItemPastItsDeadlineStops() throws {
        let plan = try PipelineCatalog.find("caption-images").plan()
        let engine = try ModelEngine(
            directory: URL(fileURLWithPath: Self.demoModel), identity: ModelIdentity(name: "demo", revision: "1"),
            plan: plan, options: ModelEngine.Options(threads: 1), warn: { _ in })
        let url = Self.root.appendingPathComponent("Samples/Demo/scenes/scene-01.png")
        let request = EngineRequest(
            item: InputItem(id: "scene-01.png", url: url, kind: .images), text: nil, prompt: plan.prompt.text,
            task: plan.task, sampling: plan.sampling, imageBudget: plan.imageBudget)
        let prepared = try engine.prepare(request)
        let late = EngineJob(prepared: prepared, timeLimit: .seconds(1), deadline: .now - .seconds(1))
        let onTime = EngineJob(prepared: prepared, timeLimit: .seconds(60), deadline: .now + .seconds(60))
        let results = engine.run([late, onTime])
        #expect(throws: PipelineError.timeLimitExceeded(seconds: 1)) { try results[0].get() }
        #expect(try results[1].get().answer == .text("Three yellow triangles."))
    }

    /// A corrupt image among good ones gets one error record and the run finishes; a model directory that is not a
    /// checkpoint exits with status 3, naming it.
    @Test func badFilesAndBadModels() throws {
        let fixture = try RunFixture(images: 0)
        defer { fixture.cleanUp() }
        for name in ["scene-01.png", "scene-02.png"] {
            let bytes = try Data(contentsOf: Self.root.appendingPathComponent("Samples/Demo/scenes/\(name)"))
            try fixture.write("in/\(name)", [UInt8](bytes))
        }
        try fixture.write("in/broken.png", Array("not a png".utf8))
        let run = try RunFixture.run(["run", "caption-images", fixture.input, "--model", Self.demoModel, "--quiet"])
        #expect(run.status == 1, "\(run.stderr)")
        let records = try RunFixture.records(run.stdout)
        #expect(records.map { $0["id"] as? String } == ["broken.png", "scene-01.png", "scene-02.png"])
        #expect((records[0]["error"] as? [String: Any])?["message"] as? String != nil)
        #expect(records[1]["text"] as? String == "Three yellow triangles.")

        let notAModel = try RunFixture.run(["run", "caption-images", fixture.input, "--model", "Samples/Demo/scenes"])
        #expect(notAModel.status == 3)
        #expect(
            notAModel.stderr.contains("cannot load model \(Self.root.path)/Samples/Demo/scenes"), "\(notAModel.stderr)")
    }

    /// Without a model and without the demo model, the run is a usage error that says what to pass.
    @Test func missingDemoModelIsAUsageError() throws {
        let result = try RunFixture.run(
            ["run", "caption-images", "Samples/Demo/scenes"], environment: ["VLBATCH_DEMO_MODEL": "/no/such/demo"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/no/such/demo") && result.stderr.contains("VLBATCH_MODEL"), "\(result.stderr)")
    }

    /// Quantized weights are part of the job: an output made with bf16 weights is not resumed with q8.
    @Test func weightFormatIsPartOfTheJob() throws {
        let fixture = try RunFixture(images: 0)
        defer { fixture.cleanUp() }
        let bytes = try Data(contentsOf: Self.root.appendingPathComponent("Samples/Demo/scenes/scene-01.png"))
        try fixture.write("in/scene-01.png", [UInt8](bytes))
        let arguments = [
            "run", "caption-images", fixture.input, "--output", fixture.output, "--quiet", "--threads", "1",
        ]
        #expect(try RunFixture.run(arguments).status == 0)
        #expect(try RunFixture.run(arguments + ["--weights", "bf16"]).status == 0)
        let changed = try RunFixture.run(arguments + ["--weights", "q8"])
        #expect(changed.status == 5)
        #expect(changed.stderr.contains("weights q8"), "\(changed.stderr)")
    }
}
