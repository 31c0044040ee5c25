import ArgumentParser

/// `vlbatch inspect`: look at what the engine would feed a model, without running one.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show how inputs are decoded and prepared for a model.",
        subcommands: [InspectImageCommand.self, InspectTokenizeCommand.self, InspectPromptCommand.self])
}
