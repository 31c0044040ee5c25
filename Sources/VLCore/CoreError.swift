/// Everything that can go wrong while mapping and reading weight files.
///
/// Every case carries the path of the file at fault; where a tensor is at fault its name is carried too. Each
/// message names them and says what to do.
public enum CoreError: Error, Equatable, CustomStringConvertible {
    /// A file vlbatch needs is not there.
    case missingFile(path: String)
    /// The file exists but could not be opened, inspected or mapped.
    case unreadableFile(path: String, reason: String)
    /// The path names a directory, a FIFO or a device rather than a regular file.
    case notRegularFile(path: String)
    /// The file is shorter than the 8-byte header length that starts every safetensors file.
    case tooShort(path: String, size: Int)
    /// The 8-byte header length is below 2, above `SafeTensorsFile.maximumHeaderLength`, or past the end of the file.
    case invalidHeaderLength(path: String, length: UInt64, fileSize: Int)
    /// A JSON document (a safetensors header or an index file) is not valid JSON or not shaped as expected.
    case malformedJSON(path: String, reason: String)
    /// A top-level entry (a tensor or `__metadata__` of a header, `weight_map` of an index) lacks a key or holds a
    /// wrong value.
    case invalidEntry(path: String, key: String, reason: String)
    /// A tensor's dtype is not one that safetensors defines.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// The element count of a tensor's shape, or its size in bytes, overflows `Int`.
    case shapeOverflow(path: String, tensor: String, shape: [Int])
    /// A tensor's byte range does not hold shape × dtype size bytes.
    case sizeMismatch(path: String, tensor: String, expected: Int, actual: Int)
    /// A tensor's byte range is reversed, overlaps the previous tensor or leaves a hole after it.
    case invalidOffsets(path: String, tensor: String, begin: Int, end: Int, reason: String)
    /// The data section's length differs from where the last tensor ends: the file is truncated or has extra bytes.
    case dataSizeMismatch(path: String, expected: Int, actual: Int)
    /// No tensor of that name is in the file or checkpoint.
    case tensorNotFound(path: String, tensor: String)
    /// The tensor's dtype cannot be converted as asked.
    case unsupportedConversion(path: String, tensor: String, dtype: String, to: String)
    /// A tensor cannot be stored in the weight format asked for: not 2-D, or its rows do not split into blocks.
    case invalidWeightShape(path: String, tensor: String, shape: [Int], format: String)
    /// A checkpoint directory holds neither `model.safetensors` nor `model.safetensors.index.json`.
    case noWeights(directory: String)
    /// The index names a shard file that is not in the checkpoint directory.
    case missingShard(path: String, shard: String, tensor: String)
    /// The index places a tensor in a shard that does not hold it.
    case tensorMissingFromShard(path: String, shard: String, tensor: String)
    /// A shard holds a tensor that the index does not place in that shard.
    case unlistedTensor(path: String, shard: String, tensor: String)

    /// The file (or, for `noWeights`, the directory) the error is about; for shard errors, the index file.
    public var path: String {
        switch self {
        case .missingFile(let path), .unreadableFile(let path, _), .notRegularFile(let path), .tooShort(let path, _),
            .invalidHeaderLength(let path, _, _), .malformedJSON(let path, _), .invalidEntry(let path, _, _),
            .unknownDType(let path, _, _), .shapeOverflow(let path, _, _), .sizeMismatch(let path, _, _, _),
            .invalidOffsets(let path, _, _, _, _), .dataSizeMismatch(let path, _, _), .tensorNotFound(let path, _),
            .unsupportedConversion(let path, _, _, _), .invalidWeightShape(let path, _, _, _), .noWeights(let path),
            .missingShard(let path, _, _),
            .tensorMissingFromShard(let path, _, _), .unlistedTensor(let path, _, _):
            return path
        }
    }

    /// A one-line message naming the file (and the tensor) and saying what to do.
    public var description: String {
        let damaged = "the file is damaged; re-download it"
        switch self {
        case .missingFile(let path):
            return "\(path): file not found; check the path"
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read the file (\(reason)); check the path and its permissions"
        case .notRegularFile(let path):
            return "\(path): not a regular file; give the path of a file"
        case .tooShort(let path, let size):
            return "\(path): \(size) bytes is too short for a safetensors file; re-download it"
        case .invalidHeaderLength(let path, let length, let fileSize):
            return "\(path): header length \(length) does not fit a file of \(fileSize) bytes; \(damaged)"
        case .malformedJSON(let path, let reason):
            return "\(path): \(reason); \(damaged)"
        case .invalidEntry(let path, let key, let reason):
            return "\(path): entry \"\(key)\": \(reason); \(damaged)"
        case .unknownDType(let path, let tensor, let dtype):
            return "\(path): tensor \"\(tensor)\" has dtype \"\(dtype)\", which vlbatch does not know; "
                + "convert the checkpoint to BF16, F16 or F32"
        case .shapeOverflow(let path, let tensor, let shape):
            return "\(path): tensor \"\(tensor)\": shape \(shape) is too large to address; \(damaged)"
        case .sizeMismatch(let path, let tensor, let expected, let actual):
            return "\(path): tensor \"\(tensor)\": its shape and dtype need \(expected) bytes but its data_offsets "
                + "span \(actual); \(damaged)"
        case .invalidOffsets(let path, let tensor, let begin, let end, let reason):
            return "\(path): tensor \"\(tensor)\": data_offsets [\(begin), \(end)] \(reason); \(damaged)"
        case .dataSizeMismatch(let path, let expected, let actual):
            let problem = actual < expected ? "the file is truncated" : "the file has extra bytes after the last tensor"
            return "\(path): the tensors need a data section of \(expected) bytes but it holds \(actual) "
                + "(\(problem)); re-download it"
        case .tensorNotFound(let path, let tensor):
            return "\(path): no tensor named \"\(tensor)\"; check the model type and the checkpoint"
        case .unsupportedConversion(let path, let tensor, let dtype, let to):
            return "\(path): tensor \"\(tensor)\" is \(dtype), which cannot be read as \(to); "
                + "convert the checkpoint to BF16, F16 or F32"
        case .invalidWeightShape(let path, let tensor, let shape, let format):
            return "\(path): tensor \"\(tensor)\" of shape \(shape) cannot be stored as \(format) (it needs a 2-D "
                + "tensor whose rows split into blocks of 32); keep it in bf16 or f16"
        case .noWeights(let directory):
            return "\(directory): neither model.safetensors nor model.safetensors.index.json is here; "
                + "give the directory of a Hugging Face checkpoint"
        case .missingShard(let path, let shard, let tensor):
            return "\(path): shard \"\(shard)\" (which holds \"\(tensor)\") is missing from the checkpoint directory; "
                + "download all shards"
        case .tensorMissingFromShard(let path, let shard, let tensor):
            return "\(path): tensor \"\(tensor)\" is not in shard \"\(shard)\" as the index says; "
                + "re-download the checkpoint"
        case .unlistedTensor(let path, let shard, let tensor):
            return "\(path): shard \"\(shard)\" holds tensor \"\(tensor)\", which the index does not place there; "
                + "re-download the checkpoint"
        }
    }
}
