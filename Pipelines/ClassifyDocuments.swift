import VLPipeline

/// Sorts scans and typed documents into kinds, with the probability of the chosen kind.
struct ClassifyDocuments: Pipeline {
    static let name = "classify-documents"
    static let summary = "Sort scanned and text documents into invoice, receipt, letter, form or other"

    var body: PipelineDefinition {
        Inputs.files(.images, .text)
        Classify(
            labels: ["invoice", "receipt", "letter", "form", "other"],
            question: "What kind of document is this?")
        // Scans rarely need fine detail to tell a letter from an invoice; a small budget keeps CPU runs quick.
        ImageBudget(maxImageTokens: 512)
    }
}
