import PackagePlugin

/// Generates `PipelineRegistry.swift` for a target from its own Swift files, so that a pipeline dropped into the
/// target's folder is listed after the next build with no other edit. It runs the generator offline, at build time.
@main
struct PipelineRegistryPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let module = target as? SourceModuleTarget else { return [] }
        let inputs = module.sourceFiles(withSuffix: "swift").map(\.url)
        let output = context.pluginWorkDirectoryURL.appending(path: "PipelineRegistry.swift")
        return [
            .buildCommand(
                displayName: "Listing the pipelines of \(target.name)",
                executable: try context.tool(named: "PipelineRegistryGenerator").url,
                arguments: [output.path()] + inputs.map { $0.path() },
                inputFiles: inputs,
                outputFiles: [output])
        ]
    }
}
