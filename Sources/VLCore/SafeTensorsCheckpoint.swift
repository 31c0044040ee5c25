/// The weights of a Hugging Face checkpoint directory: `model.safetensors`, or the shards that
/// `model.safetensors.index.json` lists, each opened once.
///
/// Checking is strict, as in llama.cpp's loader: a tensor the index places in a shard must be there, and a shard
/// must hold no tensor the index does not place in it.
public struct SafeTensorsCheckpoint: Sendable {
    /// The file of an unsharded checkpoint.
    public static let singleFileName = "model.safetensors"
    /// The index of a sharded checkpoint: `{"metadata": {...}, "weight_map": {tensor: shard file}}`.
    public static let indexFileName = "model.safetensors.index.json"

    /// The directory the checkpoint was opened from.
    public let directory: String
    /// The weight files, sorted by name.
    public let files: [SafeTensorsFile]
    /// Every tensor name, sorted.
    public let names: [String]
    /// The position in `files` of the file holding each tensor.
    private let fileIndex: [String: Int]

    /// Opens the checkpoint in `directory`, preferring the index when there is one.
    public init(directory: String) throws(CoreError) {
        self.directory = directory
        let indexPath = Self.path(directory, Self.indexFileName)
        let index: MappedFile
        do throws(CoreError) {
            index = try MappedFile(path: indexPath)
        } catch .missingFile {
            do throws(CoreError) {
                files = [try SafeTensorsFile(path: Self.path(directory, Self.singleFileName))]
            } catch .missingFile {
                throw .noWeights(directory: directory)
            }
            names = files[0].names
            fileIndex = Dictionary(uniqueKeysWithValues: names.map { ($0, 0) })
            return
        }
        let weightMap = try decodeJSON(RawIndex.self, from: index.bytes, indexPath).weightMap
        let shards = Dictionary(grouping: weightMap.keys) { weightMap[$0] ?? "" }.sorted { $0.key < $1.key }
        var files: [SafeTensorsFile] = []
        for (shard, listed) in shards {
            files.append(try Self.openShard(shard, listed: Set(listed), directory: directory, indexPath: indexPath))
        }
        self.files = files
        names = weightMap.keys.sorted()
        fileIndex = Dictionary(
            uniqueKeysWithValues: shards.enumerated().flatMap { position, shard in shard.value.map { ($0, position) } })
    }

    /// A zero-copy view of the tensor called `name`, from whichever file holds it.
    public func tensor(named name: String) throws(CoreError) -> TensorView {
        guard let position = fileIndex[name] else { throw .tensorNotFound(path: directory, tensor: name) }
        return try files[position].tensor(named: name)
    }

    /// Opens one shard and checks that it holds exactly the tensors the index places in it.
    private static func openShard(
        _ shard: String, listed: Set<String>, directory: String, indexPath: String
    ) throws(CoreError) -> SafeTensorsFile {
        // A shard is a file beside the index; a path elsewhere would let an index read arbitrary files.
        guard !shard.isEmpty, !shard.contains("/") else {
            throw .invalidEntry(path: indexPath, key: "weight_map", reason: "\"\(shard)\" is not a shard file name")
        }
        let file: SafeTensorsFile
        do throws(CoreError) {
            file = try SafeTensorsFile(path: path(directory, shard))
        } catch .missingFile {
            throw .missingShard(path: indexPath, shard: shard, tensor: listed.min() ?? "")
        }
        if let absent = listed.subtracting(file.names).min() {
            throw .tensorMissingFromShard(path: indexPath, shard: shard, tensor: absent)
        }
        if let extra = file.names.first(where: { !listed.contains($0) }) {
            throw .unlistedTensor(path: indexPath, shard: shard, tensor: extra)
        }
        return file
    }

    private static func path(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

/// The part of the index file the reader needs; `metadata` (which holds `total_size`) is not used.
private struct RawIndex: Decodable {
    let weightMap: [String: String]

    enum CodingKeys: String, CodingKey {
        case weightMap = "weight_map"
    }
}
