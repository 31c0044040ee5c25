import ArgumentParser
import Foundation
import VLCore
import VLEngine
import VLPipeline

/// How `run` goes: parallelism, limits and reporting (none of it changes results, so none is in the fingerprint).
struct RunExecutionOptions: ParsableArguments {
    @Option(help: "Decode workers reading and preparing items while the engine runs.")
    var workers: Int = 2

    @Option(help: "Seconds an item may take, preparation included; a slower item gets an error record (0: no limit).")
    var timeLimit: Double = 0

    @Option(help: "Stop taking items after this many error records in this run (0: never).")
    var maxErrors: Int = 0

    @Flag(help: "No progress and no summary on standard error; errors are still reported.")
    var quiet = false

    @Option(help: "Seconds between progress lines when standard error is not a terminal.")
    var progressInterval: Double = 30

    func validate() throws {
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
        if timeLimit < 0 { throw ValidationError("--time-limit must be 0 (none) or more seconds") }
        if maxErrors < 0 { throw ValidationError("--max-errors must be 0 (never stop) or more") }
        if !(progressInterval > 0) { throw ValidationError("--progress-interval must be positive") }
    }

    /// The runner's options.
    var runOptions: RunOptions {
        var options = RunOptions()
        options.workers = workers
        options.timeLimit = timeLimit > 0 ? .milliseconds(Int64(timeLimit * 1000)) : nil
        options.maxErrors = maxErrors > 0 ? maxErrors : nil
        return options
    }
}

/// How a checkpoint runs: its weight format (part of the job: quantized weights give other answers) and threads.
struct ModelRunOptions: ParsableArguments {
    @Option(help: "Weight format of the text decoder: bf16, f16, q8 or q4 (quantized when loaded).")
    var weights: WeightFormat = .bf16

    @Option(help: "Compute threads of the model (default: one per core).")
    var threads: Int?

    @Option(
        help: "Items generating at once, decoded together (1-\(BatchGenerator.maxBatch); results do not depend on it).")
    var batch: Int = 4

    @Option(
        help: ArgumentHelp(
            "MiB the generating items' KV caches and recurrent state may take together.",
            discussion:
                "An item is admitted when its state at its longest (prompt plus maximum new tokens) fits beside "
                + "the running ones'; an item larger than the whole budget runs alone."))
    var stateMemory: Int = 4096

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !(1...BatchGenerator.maxBatch).contains(batch) {
            throw ValidationError("--batch must be between 1 and \(BatchGenerator.maxBatch)")
        }
        if stateMemory < 1 { throw ValidationError("--state-memory must be at least 1 (MiB)") }
    }

    /// The engine's options, with the image decoder's limits from `budget`.
    func engineOptions(budget: ImageBudgetOptions) -> ModelEngine.Options {
        ModelEngine.Options(
            weights: weights, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, batch: batch,
            stateMemory: stateMemory << 20, decodingLimits: budget.decodingLimits)
    }
}

/// Which part of the input this run takes, for jobs split over machines.
struct ShardOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Process only shard INDEX/COUNT of the items (INDEX from 0), chosen by a stable hash of the item id.",
            discussion: "Without it, SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX are used.",
            valueName: "index/count"))
    var shard: String?

    @Option(help: "The number of shards, for Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX) or to override Slurm's.")
    var shardCount: Int?

    /// The shard from the flags or, failing them, from the scheduler's environment.
    func resolve(environment: [String: String]) throws(PipelineError) -> Shard? {
        if let shard { return try Shard(parsing: shard) }
        return try Shard.fromEnvironment(environment, count: shardCount)
    }
}

/// Settings that replace the pipeline's own; they are part of the job fingerprint.
struct PipelineSettingOptions: ParsableArguments {
    @Option(help: "At most this many generated tokens (Generate pipelines).")
    var maxTokens: Int?

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Double?

    @Option(help: "Nucleus sampling mass, above 0 and at most 1.")
    var topP: Double?

    @Option(help: "Sampling seed; each item's seed derives from it and the item id.")
    var seed: UInt64?

    @OptionGroup var budget: ImageBudgetOptions

    /// The overrides for the plan, with `model` from `--model`.
    func overrides(model: String?) -> PipelineOverrides {
        var overrides = PipelineOverrides()
        overrides.model = model
        overrides.maxTokens = maxTokens
        overrides.temperature = temperature
        overrides.topP = topP
        overrides.seed = seed
        overrides.imageBudget = ImageBudget(
            maxImageTokens: budget.maxImageTokens, minPixels: budget.minPixels, maxPixels: budget.maxPixels)
        return overrides
    }
}
