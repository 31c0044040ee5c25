import ArgumentParser

/// The `vlbatch` command: configuration only; the work happens in the subcommands, one file each.
@main
struct VLBatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vlbatch",
        abstract: "Batch jobs through local Qwen vision-language models, on the CPU.",
        version: "0.1.0",
        subcommands: [InspectCommand.self, BenchCommand.self])
}
