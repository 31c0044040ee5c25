import ArgumentParser

/// `vlbatch bench`: speed figures for parts of the engine, for comparison with peers and the machine's limits.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the speed of parts of the engine.",
        subcommands: [BenchPreprocessCommand.self])
}
