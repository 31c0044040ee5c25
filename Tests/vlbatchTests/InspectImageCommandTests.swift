import Foundation
import Testing

/// End-to-end: the README's main command on the bundled samples, against golden output.
@Suite struct InspectImageCommandTests {
    static let golden = CommandRunner.repositoryRoot.appendingPathComponent("Tests/vlbatchTests/Golden")

    /// The README's main command, with the sample file list spelled out (the shell would expand the glob).
    static var sampleImages: [String] {
        let folder = CommandRunner.repositoryRoot.appendingPathComponent("Samples/Images")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().map { "Samples/Images/\($0)" }
    }

    @Test(arguments: ["qwen3.5", "qwen2-vl"])
    func samplesMatchGoldenOutput(processor: String) throws {
        let output = try CommandRunner.run(
            ["inspect", "image"] + Self.sampleImages + ["--processor", "Samples/Processors/\(processor)"])
        #expect(output.status == 0, "\(output.stderr)")
        let expected = try String(
            contentsOf: Self.golden.appendingPathComponent("inspect-samples-\(processor).jsonl"), encoding: .utf8)
        #expect(output.stdout == expected)
    }

    @Test func badFilesGetErrorRecordsAndExitStatusOne() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlbatch-inspect-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = folder.appendingPathComponent("empty.jpg")
        try Data().write(to: empty)
        let text = folder.appendingPathComponent("notes.png")
        try Data("not an image".utf8).write(to: text)
        let output = try CommandRunner.run(
            [
                "inspect", "image", empty.path, "Samples/Images/badge-transparent.png", text.path,
                "--processor", "Samples/Processors/qwen3.5",
            ])
        #expect(output.status == 1)
        let records = try output.stdout.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        try #require(records.count == 3)
        #expect(
            records.map { $0["path"] as? String } == [empty.path, "Samples/Images/badge-transparent.png", text.path])
        #expect(records[0]["error"] != nil && records[2]["error"] != nil && records[1]["error"] == nil)
        let message = try #require((records[0]["error"] as? [String: Any])?["message"] as? String)
        #expect(message.contains("empty.jpg"))
    }

    @Test func dumpWritesPixelValuesOfTheReportedShape() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlbatch-dump-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = try CommandRunner.run(
            [
                "inspect", "image", "Samples/Images/badge-transparent.png", "--processor",
                "Samples/Processors/qwen2-vl",
                "--max-image-tokens", "64", "--dump", folder.path,
            ])
        #expect(output.status == 0, "\(output.stderr)")
        let record = try #require(
            JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        let grid = try #require(record["grid_thw"] as? [Int])
        #expect(try #require(record["visual_tokens"] as? Int) <= 64)
        let npy = try Data(contentsOf: folder.appendingPathComponent("badge-transparent.npy"))
        let headerLength = Int(npy[8]) | Int(npy[9]) << 8
        let header = String(decoding: npy[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'shape': (\(grid[0] * grid[1] * grid[2]), 1176)"))
        #expect(npy.count == 10 + headerLength + grid[0] * grid[1] * grid[2] * 1176 * 4)
    }

    @Test func contradictoryBudgetIsRefusedBeforeAnyWork() throws {
        let output = try CommandRunner.run(
            [
                "inspect", "image", "Samples/Images/panorama.jpg", "--processor", "Samples/Processors/qwen2-vl",
                "--min-pixels", "500000", "--max-pixels", "100000",
            ])
        #expect(output.status != 0)
        #expect(output.stdout.isEmpty)
        #expect(output.stderr.contains("min pixels"))
    }
}
