import ArgumentParser
import Dispatch

/// `vlbatch bench`: speed figures for parts of the engine, for comparison with peers and the machine's limits.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the speed of parts of the engine.",
        subcommands: [
            BenchPreprocessCommand.self, BenchTokenizerCommand.self, BenchKernelsCommand.self, BenchModelCommand.self,
        ])
}

/// How many timed passes a benchmark makes; the best one is reported, the least disturbed by other work.
struct BenchPasses: ParsableArguments {
    @Option(help: "Timed passes; the best is reported.")
    var repeats: Int = 3

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
    }
}

/// The shortest wall time of `passes` runs of `work`, in seconds.
func best(of passes: Int, _ work: () -> Void) -> Double {
    var shortest = Double.infinity
    for _ in 0..<passes {
        let start = DispatchTime.now().uptimeNanoseconds
        work()
        shortest = min(shortest, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return shortest
}
