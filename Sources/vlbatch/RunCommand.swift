import ArgumentParser
import Foundation
import VLPipeline

/// `vlbatch run`: a pipeline over files and folders, resumable, with one JSON record per input.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline over files, folders and globs; one JSON record per input.",
        discussion: """
            Folders are walked recursively (hidden files skipped) and each item's id is its path relative to the \
            folder or glob prefix. With --output, records are appended to the file as items finish and a rerun \
            skips the items already there, provided the job (pipeline, prompt, model, sampling, image budget, \
            shard) is unchanged: its fingerprint is kept in OUTPUT.job.json. Without --output, records go to \
            standard output. Without --model, the pipeline's Model stage, $VLBATCH_MODEL or else the bundled demo \
            model (a toy trained for Samples/Demo; $VLBATCH_DEMO_MODEL says where it is) is used. --model \
            builtin:echo selects a built-in stand-in engine that describes each file (for trying pipelines and for \
            tests).

            \(ExitStatus.help)
            """)

    @Argument(help: "The pipeline to run (vlbatch list shows them).")
    var name: String

    @Argument(help: "Files, folders and quoted globs such as 'scans/**/*.png'.")
    var inputs: [String] = []

    @Option(help: "A file listing input paths, one per line; - reads the list from standard input.")
    var filesFrom: String?

    @Option(
        help: ArgumentHelp(
            "A model directory, a Hugging Face repo id from the local cache, or builtin:echo.",
            discussion: "Default: the pipeline's Model stage, then $VLBATCH_MODEL, then the bundled demo model."))
    var model: String?

    @Option(
        help: ArgumentHelp(
            "Append records to this JSONL file and resume from it.",
            discussion: "{shard} in the name becomes the shard index (0 without sharding)."))
    var output: String?

    @Flag(help: "Discard an output written by a different job and start anew.")
    var force = false

    @Flag(help: "Process again the items whose record in the output is an error.")
    var retryErrors = false

    @OptionGroup var execution: RunExecutionOptions

    @OptionGroup var modelOptions: ModelRunOptions

    @OptionGroup var sharding: ShardOptions

    @OptionGroup var settings: PipelineSettingOptions

    func validate() throws {
        if inputs.isEmpty && filesFrom == nil {
            throw ValidationError("give input files, folders or globs, or --files-from")
        }
    }

    func run() throws {
        try exitingOnPipelineError { () throws -> ExitStatus in
            let environment = ProcessInfo.processInfo.environment
            let pipeline = try PipelineCatalog.find(name)
            let plan = try pipeline.plan(overrides: settings.overrides(model: model))
            let collector = InputCollector(kinds: plan.inputKinds)
            let items = try collector.collect(arguments: inputs, listed: try listedPaths())
            let shard = try sharding.resolve(environment: environment)
            let selected = plan.select(items, shard: shard)
            let reference: String
            if let given = plan.model ?? environment["VLBATCH_MODEL"] {
                reference = given
            } else {
                reference = try DemoModel.locate(environment: environment, pipeline: name)
                if !execution.quiet {
                    writeStandardError(
                        "no model given: using the bundled demo model, a toy trained for Samples/Demo (\(reference))\n")
                }
            }
            let location = try ModelLocation.resolve(reference, environment: environment)
            // The output is checked (lock, fingerprint) before the model is loaded, and the model is loaded only if
            // something is left to do: a rerun of a finished job, or one that collides with another run, costs none.
            let identity = try EngineCatalog.identity(of: location, weights: modelOptions.weights)
            let fingerprint = plan.fingerprint(model: identity, shard: shard)
            let outputURL = output.map {
                URL(fileURLWithPath: $0.replacingOccurrences(of: "{shard}", with: shard.map { "\($0.index)" } ?? "0"))
            }
            let journal = try outputURL.map { (url) throws(PipelineError) in
                try OutputJournal(url: url, fingerprint: fingerprint, force: force, retryErrors: retryErrors)
            }
            let pending = journal?.pending(selected) ?? selected
            let (statistics, signal) =
                pending.isEmpty
                ? (RunStatistics(), nil)
                : run(
                    plan: plan, engine: try loadEngine(location, plan: plan, environment: environment),
                    pending: pending, journal: journal)
            try journal?.synchronize()
            if plan.output == .csv, let journal {
                try journal.exportCSV(
                    CSVFormat(plan: plan), to: journal.url.deletingPathExtension().appendingPathExtension("csv"))
            }
            let earlierFailures =
                journal.map { journal in selected.count { journal.existing.failed.contains($0.id) } } ?? 0
            if !execution.quiet {
                writeStandardError(
                    summary(statistics, skipped: selected.count - pending.count, earlierFailures: earlierFailures))
            }
            return try status(statistics, signal: signal, earlierFailures: earlierFailures)
        }
    }

    /// The engine for `location`; checkpoint warnings go to standard error unless `--quiet`.
    private func loadEngine(_ location: ModelLocation, plan: PipelinePlan, environment: [String: String])
        throws(PipelineError) -> any PipelineEngine
    {
        try EngineCatalog.load(
            location, plan: plan, options: modelOptions.engineOptions(budget: settings.budget),
            environment: environment
        ) { warning in
            if !execution.quiet { writeStandardError(warning) }
        }
    }

    /// Runs the pending items with signals routed to the runner and progress on standard error; returns the counters
    /// and the first signal received.
    private func run<Engine: PipelineEngine>(
        plan: PipelinePlan, engine: Engine, pending: [InputItem], journal: OutputJournal?
    ) -> (RunStatistics, Int32?) {
        let runner = PipelineRunner(plan: plan, engine: engine, items: pending, options: execution.runOptions)
        let signals = SignalTrap(stop: runner.stop, abandon: runner.abandon)
        let progress =
            execution.quiet
            ? nil
            : ProgressReporter(name: plan.name, interval: execution.progressInterval) { runner.statistics }
        let format: DescriptorSink.Format = plan.output == .csv ? .csv(CSVFormat(plan: plan)) : .jsonl
        let sink: any RecordSink =
            journal ?? DescriptorSink(descriptor: STDOUT_FILENO, name: "standard output", format: format)
        let statistics = runner.run(into: sink)
        progress?.finish()
        return (statistics, signals.firstSignal)
    }

    private func status(_ statistics: RunStatistics, signal: Int32?, earlierFailures: Int) throws -> ExitStatus {
        switch statistics.stopReason {
        case .outputFailed(let error)?: throw error
        case .requested?, .abandoned?: return signal == SIGTERM ? .terminated : .interrupted
        case .maxErrors?: return .tooManyErrors
        case .engineHung?: return .engineHung
        case nil: return statistics.failed + earlierFailures > 0 ? .itemsFailed : .allDone
        }
    }

    private func summary(_ statistics: RunStatistics, skipped: Int, earlierFailures: Int) -> String {
        let seconds = statistics.elapsed.seconds
        let rate = { (count: Int) in seconds > 0 ? Double(count) / seconds : 0 }
        let earlier = earlierFailures > 0 ? " (\(earlierFailures) earlier error records kept; --retry-errors)" : ""
        return "\(name): \(statistics.succeeded) done, \(skipped) skipped (already in the output), "
            + "\(statistics.failed) failed\(earlier); "
            + String(
                format: "%d items in %.1f s, %.1f items/s, %.1f tokens/s generated, %d visual tokens\n",
                statistics.written, seconds, rate(statistics.written), rate(statistics.generatedTokens),
                statistics.visualTokens)
    }

    /// Paths from `--files-from` (a file, or `-` for standard input).
    private func listedPaths() throws(PipelineError) -> [String] {
        guard let filesFrom else { return [] }
        let data: Data
        if filesFrom == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: filesFrom))
            } catch {
                throw .inputNotFound(filesFrom)
            }
        }
        return InputCollector.paths(inFileList: String(decoding: data, as: UTF8.self))
    }
}
