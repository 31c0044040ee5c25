import Foundation
import VLPipeline

/// The bundled demo model (`Samples/Models/vlbatch-demo-qwen3.5`): `vlbatch run`'s model when none is given, so that
/// the README's main command works on a fresh checkout. A toy trained for the files of `Samples/Demo`, nothing more.
enum DemoModel {
    /// Overrides where the demo model is looked for.
    static let variable = "VLBATCH_DEMO_MODEL"
    /// Its place in the repository.
    static let relativePath = "Samples/Models/vlbatch-demo-qwen3.5"

    /// The demo model's directory: `$VLBATCH_DEMO_MODEL` when set; otherwise the first of `relativePath` below a
    /// folder holding the executable (a `swift build` product lives in the checkout's `.build`), below the checkout
    /// this executable was built from, and below the current directory that holds a `config.json`.
    ///
    /// - Throws: `PipelineError.invalidPipeline` (a usage error: no model was given) naming every place looked in.
    static func locate(environment: [String: String], pipeline: String) throws(PipelineError) -> String {
        var candidates: [URL] = []
        if let override = environment[variable] {
            candidates = [URL(fileURLWithPath: override)]
        } else {
            if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
                var folder = executable.deletingLastPathComponent()
                while folder.path != "/" {
                    candidates.append(folder.appendingPathComponent(relativePath))
                    folder.deleteLastPathComponent()
                }
            }
            // Sources/vlbatch/DemoModel.swift -> the checkout's root.
            let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            candidates.append(checkout.appendingPathComponent(relativePath))
            candidates.append(
                URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(relativePath))
        }
        let paths = candidates.map(\.standardizedFileURL.path)
        if let found = paths.first(where: { FileManager.default.fileExists(atPath: $0 + "/config.json") }) {
            return found
        }
        var seen: Set<String> = []
        let looked = paths.filter { seen.insert($0).inserted }
        throw .invalidPipeline(
            pipeline: pipeline,
            problem:
                "no model given and the bundled demo model is not there (looked in \(looked.joined(separator: ", "))"
                + (environment[variable] == nil ? "" : ", from $\(variable)")
                + "); pass --model, set VLBATCH_MODEL, or set \(variable) to the demo model's directory")
    }
}
