import ArgumentParser
import Foundation

/// The `vlbatch` command: configuration only; the work happens in the subcommands, one file each.
@main
struct VLBatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vlbatch",
        abstract: "Batch jobs through local Qwen vision-language models, on the CPU.",
        version: "0.1.0",
        subcommands: [
            RunCommand.self, ListCommand.self, MergeCommand.self, GenerateCommand.self, InspectCommand.self,
            BenchCommand.self,
        ])

    /// Runs the command; usage errors exit with status 2, as shells and cron expect, rather than ArgumentParser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
