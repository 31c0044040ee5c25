import ArgumentParser

/// `vlbatch bench`: speed figures for parts of the engine, for comparison with peers and the machine's limits.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the speed of parts of the engine.",
        subcommands: [BenchPreprocessCommand.self, BenchTokenizerCommand.self, BenchKernelsCommand.self])
}

/// How many timed passes a benchmark makes; the best one is reported, the least disturbed by other work.
struct BenchPasses: ParsableArguments {
    @Option(help: "Timed passes; the best is reported.")
    var repeats: Int = 3

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
    }
}
