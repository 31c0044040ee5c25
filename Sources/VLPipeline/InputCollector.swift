import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns command-line inputs (files, folders, globs, file lists) into items in a stable order.
///
/// - A folder is walked recursively; files with an extension of the accepted kinds are taken, hidden files and
///   folders (names starting with `.`) are not. Ids are paths relative to the folder.
/// - A glob (`*`, `?`, `[...]` within a name, `**` for any number of folders) is walked from its longest prefix
///   without wildcards; ids are relative to that prefix.
/// - A file is taken whatever its extension; its id is the path as given.
/// Within one argument, items are sorted by id (UTF-8 byte order), so the order never depends on the file system.
/// Arguments keep their order. Two items with the same id are refused, since resume keys on the id.
public struct InputCollector {
    /// The kinds the pipeline reads.
    public let kinds: Set<InputKind>
    /// Resolves relative arguments.
    public let workingDirectory: URL

    /// A collector for a pipeline reading `kinds`.
    public init(
        kinds: Set<InputKind>, workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) {
        self.kinds = kinds
        self.workingDirectory = workingDirectory
    }

    /// Items for `arguments` (paths, folders, globs) followed by `listed` (paths from a file list).
    public func collect(arguments: [String], listed: [String] = []) throws(PipelineError) -> [InputItem] {
        var items: [InputItem] = []
        var firstSource: [String: String] = [:]
        for argument in arguments + listed {
            for item in try expand(argument) {
                if let first = firstSource[item.id] {
                    throw .duplicateInputID(id: item.id, first: first, second: item.url.path)
                }
                firstSource[item.id] = item.url.path
                items.append(item)
            }
        }
        if items.isEmpty {
            let extensions = kinds.sorted().flatMap { $0.extensions.sorted() }.map { "." + $0 }
            throw .noInputs(accepted: extensions.joined(separator: " "))
        }
        return items
    }

    /// Reads a file list: one path per line, blank lines and lines starting with `#` ignored.
    public static func paths(inFileList text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    private func expand(_ argument: String) throws(PipelineError) -> [InputItem] {
        let url = resolve(argument)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return walk(root: url) { _ in true } }
            return [InputItem(id: Self.normalized(argument), url: url, kind: kind(ofExplicit: url))]
        }
        guard argument.contains(where: { "*?[".contains($0) }) else { throw .inputNotFound(argument) }
        let components = argument.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let literal = components.prefix { !$0.contains(where: { "*?[".contains($0) }) }
        let pattern = Array(components.dropFirst(literal.count))
        let prefix = literal.joined(separator: "/")
        let root =
            prefix.isEmpty && !argument.hasPrefix("/") ? workingDirectory : resolve(prefix.isEmpty ? "/" : prefix)
        let matches = walk(root: root) { Self.matches(pattern[...], Array($0.split(separator: "/"))[...]) }
        if matches.isEmpty { throw .inputNotFound(argument) }
        return matches
    }

    /// Files below `root` with an accepted extension whose relative path satisfies `accept`, sorted by id.
    private func walk(root: URL, accept: (String) -> Bool) -> [InputItem] {
        let extensions = Dictionary(
            kinds.sorted().flatMap { kind in kind.extensions.map { ($0, kind) } },
            uniquingKeysWith: { first, _ in first })
        let rootPath = root.standardizedFileURL.path
        guard
            let walker = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles])
        else { return [] }
        var items: [InputItem] = []
        for case let url as URL in walker {
            guard let kind = extensions[url.pathExtension.lowercased()], Self.isFile(url.path) else { continue }
            let path = url.standardizedFileURL.path
            let id = String(path.dropFirst(rootPath.count).drop { $0 == "/" })
            if accept(id) { items.append(InputItem(id: id, url: url, kind: kind)) }
        }
        return items.sorted { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
    }

    /// Whether `path` is a regular file or a link to one. `stat(2)` directly: URL resource values cost a third of
    /// the time of walking a large folder on Linux.
    private static func isFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// An explicitly named file: its kind by extension, or by what the pipeline reads (images win, since the
    /// decoder recognises them by content and says clearly when a file is none).
    private func kind(ofExplicit url: URL) -> InputKind {
        let byExtension = InputKind.allCases.first { $0.extensions.contains(url.pathExtension.lowercased()) }
        if let byExtension, kinds.contains(byExtension) { return byExtension }
        return kinds.contains(.images) ? .images : .text
    }

    private func resolve(_ path: String) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : workingDirectory.appendingPathComponent(path)
    }

    /// `./a/b` and `a//b` are both recorded as `a/b`.
    private static func normalized(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// Whether path components match glob components, `**` standing for any number of components.
    static func matches(_ pattern: ArraySlice<String>, _ path: ArraySlice<Substring>) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            return (0...path.count).contains { matches(pattern.dropFirst(), path.dropFirst($0)) }
        }
        guard let name = path.first else { return false }
        return fnmatch(head, String(name), FNM_PERIOD) == 0 && matches(pattern.dropFirst(), path.dropFirst())
    }
}
