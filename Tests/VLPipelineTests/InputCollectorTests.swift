import Foundation
import Testing

@testable import VLPipeline

/// Folders, globs, explicit files and file lists become items in a stable order with relative ids.
@Suite struct InputCollectorTests {
    @Test func foldersAreWalkedRecursivelyInByteOrderOfId() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        for path in ["b.png", "a-b/y.jpg", "a/x.JPG", "a/deeper/z.jpeg", "notes.txt", ".hidden/h.png", "a/.h.png"] {
            try folder.write(path, [1])
        }
        let collector = InputCollector(kinds: [.images], workingDirectory: folder.url)
        let items = try collector.collect(arguments: ["."])
        // '-' (0x2D) sorts before '/' (0x2F): byte order of the whole id, the order `merge` restores.
        #expect(items.map(\.id) == ["a-b/y.jpg", "a/deeper/z.jpeg", "a/x.JPG", "b.png"])
        #expect(items.allSatisfy { $0.kind == .images })
        let both = try InputCollector(kinds: [.images, .text], workingDirectory: folder.url).collect(arguments: ["."])
        #expect(both.first { $0.id == "notes.txt" }?.kind == .text)
    }

    @Test func globsAreRelativeToTheirLiteralPrefix() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        for path in ["scans/2024/a.png", "scans/2024/b.jpg", "scans/2025/deep/c.png", "scans/top.png", "other/d.png"] {
            try folder.write(path, [1])
        }
        let collector = InputCollector(kinds: [.images], workingDirectory: folder.url)
        #expect(
            try collector.collect(arguments: ["scans/**/*.png"]).map(\.id) == [
                "2024/a.png", "2025/deep/c.png", "top.png",
            ])
        #expect(try collector.collect(arguments: ["scans/*/*.jpg"]).map(\.id) == ["2024/b.jpg"])
        #expect(
            try collector.collect(arguments: [folder.url.path + "/scans/202?/*"]).map(\.id) == [
                "2024/a.png", "2024/b.jpg",
            ])
        #expect(throws: PipelineError.inputNotFound("scans/*.gif")) {
            try collector.collect(arguments: ["scans/*.gif"])
        }
    }

    @Test func explicitFilesAndListsKeepTheirPathsAsIds() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        try folder.write("in/scan.dat", [1])
        try folder.write("in/b.png", [1])
        let collector = InputCollector(kinds: [.images], workingDirectory: folder.url)
        let listed = InputCollector.paths(inFileList: "# scans\n./in/b.png\n\n  in/scan.dat  \n")
        #expect(listed == ["./in/b.png", "in/scan.dat"])
        let items = try collector.collect(arguments: [], listed: listed)
        #expect(items.map(\.id) == ["in/b.png", "in/scan.dat"])
        #expect(items[1].kind == .images)
    }

    @Test func unusableInputsAreRefusedBeforeAnyWork() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        try folder.write("one/x.png", [1])
        try folder.write("two/x.png", [1])
        try folder.write("docs/a.txt", [1])
        let collector = InputCollector(kinds: [.images], workingDirectory: folder.url)
        #expect(
            throws: PipelineError.duplicateInputID(
                id: "x.png", first: folder.path("one/x.png").path, second: folder.path("two/x.png").path)
        ) {
            try collector.collect(arguments: ["one", "two"])
        }
        #expect(throws: PipelineError.inputNotFound("missing")) { try collector.collect(arguments: ["missing"]) }
        #expect { try collector.collect(arguments: ["docs"]) } throws: { "\($0)".contains(".png") }
    }
}

/// Sharding by a stable hash, and shards from schedulers' environments.
@Suite struct ShardTests {
    @Test func fnv1aMatchesPublishedVectors() {
        #expect(StableHash.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(StableHash.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(StableHash.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
    }

    /// The union of shards 0..<n is the whole input, with no item in two shards.
    @Test(arguments: 1...5)
    func shardsPartitionTheInput(count: Int) throws {
        let ids = (0..<997).map { "folder \($0 % 7)/image-\($0).jpg" }
        var seen: [String: Int] = [:]
        for index in 0..<count {
            let shard = try Shard(index: index, count: count)
            for id in ids where shard.contains(id: id) {
                #expect(seen[id] == nil, "\(id) is in shards \(seen[id] ?? -1) and \(index)")
                seen[id] = index
            }
        }
        #expect(seen.count == ids.count)
        if count > 1 { #expect(Set(seen.values).count == count) }
    }

    @Test func schedulersEnvironmentsGiveTheShard() throws {
        #expect(try Shard.fromEnvironment([:], count: nil) == nil)
        #expect(
            try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"], count: nil)
                == Shard(index: 3, count: 4))
        // Arrays numbered from 1 (--array=1-4) are counted from their first task.
        #expect(
            try Shard.fromEnvironment(
                ["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"], count: nil)
                == Shard(index: 3, count: 4))
        #expect(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "2"], count: 5) == Shard(index: 2, count: 5))
        #expect(
            try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "0", "VLBATCH_SHARD_COUNT": "3"], count: nil)
                == Shard(index: 0, count: 3))
        #expect { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "1"], count: nil) } throws: {
            "\($0)".contains("--shard-count")
        }
        #expect(throws: PipelineError.self) { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "4"], count: 4) }
        #expect(try Shard(parsing: "1/3") == Shard(index: 1, count: 3))
        for bad in ["3", "1/0", "a/b", "-1/2", "2/2"] {
            #expect(throws: PipelineError.self) { try Shard(parsing: bad) }
        }
    }
}
