import Foundation
import Testing

/// The build-time scan behind `vlbatch list`: which declarations in the Pipelines folder are pipelines.
@Suite struct PipelineRegistryTests {
    static let generator = CommandRunner.executable.deletingLastPathComponent()
        .appendingPathComponent("PipelineRegistryGenerator")

    @Test func everyTypeConformingToPipelineIsListedAndNothingElse() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlbatch-registry-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = """
            import VLPipeline
            struct Plain: Pipeline { static let name = "plain" }
            final class Qualified: Sendable, VLPipeline.Pipeline {}
            struct Spread:
                Sendable,
                Pipeline
            {}
            enum Later {}
            extension Later: Pipeline {}
            struct Definition: PipelineDefinitionLike {}
            // struct Commented: Pipeline {}
            /* struct Blocked: Pipeline {} */
            struct Helper { let pipeline: Pipeline.Type }
            """
        let input = folder.appendingPathComponent("Mine.swift")
        try Data(source.utf8).write(to: input)
        let output = folder.appendingPathComponent("PipelineRegistry.swift")
        let process = Process()
        process.executableURL = Self.generator
        process.arguments = [output.path, input.path]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let registry = try String(contentsOf: output, encoding: .utf8)
        let listed = registry.split(separator: "\n").filter { $0.hasSuffix(".self,") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(listed == ["Later.self,", "Plain.self,", "Qualified.self,", "Spread.self,"])
        #expect(registry.contains("public static let all: [any Pipeline.Type]"))
    }
}
