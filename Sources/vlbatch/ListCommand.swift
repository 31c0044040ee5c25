import ArgumentParser
import Foundation
import VLPipeline

/// `vlbatch list`: the pipelines compiled in, each with its inputs, task and summary.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the pipelines (every Pipeline type in the Pipelines folder).",
        discussion: "A pipeline whose definition is invalid is listed with the reason, so its author can fix it.")

    func run() throws {
        let pipelines = PipelineCatalog.all
        let width = pipelines.map { $0.name.count }.max() ?? 0
        for pipeline in pipelines {
            let name = pipeline.name.padding(toLength: width + 2, withPad: " ", startingAt: 0)
            do {
                let plan = try pipeline.plan()
                let inputs = plan.inputKinds.sorted().map(\.rawValue).joined(separator: "+")
                print("\(name)\(pipeline.summary) [\(inputs) -> \(plan.task.name)]")
            } catch {
                print("\(name)\(pipeline.summary) [invalid: \(error)]")
            }
        }
    }
}

extension TaskSpec {
    /// The task's stage name.
    fileprivate var name: String {
        switch self {
        case .generate: "generate"
        case .classify: "classify"
        case .extract: "extract"
        }
    }
}
