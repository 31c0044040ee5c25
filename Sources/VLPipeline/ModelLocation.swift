import Foundation

/// Where `--model` points: a built-in engine, a model directory, or a repository in the local Hugging Face cache.
public enum ModelLocation: Sendable, Equatable {
    /// `builtin:NAME`, an engine compiled into vlbatch.
    case builtin(String)
    /// A directory holding a checkpoint.
    case directory(URL)
    /// A snapshot of `repository` (`ORG/NAME`) at `revision` in the Hugging Face cache.
    case cached(repository: String, revision: String, directory: URL)

    /// Resolves `reference` without the network: `builtin:` names first, then an existing directory, then a
    /// repository id looked up in `$HF_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub` and
    /// `~/.cache/huggingface/hub`, taking the snapshot `refs/main` names, or the only one.
    public static func resolve(_ reference: String, environment: [String: String]) throws(PipelineError)
        -> ModelLocation
    {
        if reference.hasPrefix("builtin:") { return .builtin(String(reference.dropFirst("builtin:".count))) }
        let path = NSString(string: reference).expandingTildeInPath
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return .directory(URL(fileURLWithPath: path).standardizedFileURL)
        }
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
        let looksLikeRepository =
            parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
            && !reference.hasPrefix("~")
        guard looksLikeRepository else { throw .modelNotFound(reference: reference, looked: [path]) }
        let caches = cacheDirectories(environment)
        let entryName = "models--" + parts.joined(separator: "--")
        for cache in caches {
            let entry = cache.appendingPathComponent(entryName)
            let snapshots = entry.appendingPathComponent("snapshots")
            guard let revisions = try? FileManager.default.contentsOfDirectory(atPath: snapshots.path) else { continue }
            let main = try? String(contentsOf: entry.appendingPathComponent("refs/main"), encoding: .utf8)
            let revision: String
            if let main = main?.trimmingCharacters(in: .whitespacesAndNewlines), revisions.contains(main) {
                revision = main
            } else if revisions.count == 1 {
                revision = revisions[0]
            } else if revisions.isEmpty {
                continue
            } else {
                throw .ambiguousSnapshot(reference: reference, snapshots: revisions.sorted())
            }
            return .cached(
                repository: reference, revision: revision, directory: snapshots.appendingPathComponent(revision))
        }
        let looked = [path + " (as a directory)"] + caches.map { $0.appendingPathComponent(entryName).path }
        throw .modelNotFound(reference: reference, looked: looked)
    }

    /// The Hugging Face hub caches to search, in the order `huggingface_hub` itself prefers them, without repeats.
    static func cacheDirectories(_ environment: [String: String]) -> [URL] {
        let home = environment["HOME"] ?? NSHomeDirectory()
        var candidates: [String] = []
        if let hubCache = environment["HF_HUB_CACHE"] { candidates.append(hubCache) }
        if let hfHome = environment["HF_HOME"] { candidates.append(hfHome + "/hub") }
        if let xdg = environment["XDG_CACHE_HOME"] { candidates.append(xdg + "/huggingface/hub") }
        candidates.append(home + "/.cache/huggingface/hub")
        var seen: Set<String> = []
        return candidates.map { NSString(string: $0).expandingTildeInPath }.filter { seen.insert($0).inserted }
            .map { URL(fileURLWithPath: $0) }
    }

    /// The identity recorded for results of a model at this location (a built-in's is its engine's).
    public var identity: ModelIdentity? {
        switch self {
        case .builtin: nil
        case .directory(let url): ModelIdentity(name: url.path, revision: url.path)
        case .cached(let repository, let revision, _): ModelIdentity(name: repository, revision: revision)
        }
    }
}
