import VLPipeline

/// Pulls the usual fields out of invoices and receipts into JSON that always parses.
struct ExtractFields: Pipeline {
    static let name = "extract-fields"
    static let summary = "Extract vendor, date, total and currency from invoices and receipts"

    /// The fields, declared as a Codable type: its properties become the extraction schema.
    struct Invoice: Codable {
        var vendor: String
        var date: String?
        var total: Double?
        var currency: String?
    }

    var body: PipelineDefinition {
        Inputs.files(.images, .text)
        Extract(Invoice.self, instruction: "Extract the vendor, the date (YYYY-MM-DD), the total and its currency.")
        ImageBudget(maxImageTokens: 1024)
    }
}
