import VLPipeline

/// Summarises text files.
struct DescribeText: Pipeline {
    static let name = "describe-text"
    static let summary = "A two-sentence summary of every text file"

    var body: PipelineDefinition {
        Inputs.text()
        Prompt(template: "Summarise the file {file_name} in two sentences.\n\n{text}")
        Generate(maxTokens: 96)
    }
}
