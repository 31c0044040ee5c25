import Foundation
import VLCore

/// A checkpoint's tensors under their canonical names, each handed out with its shape checked; when loading is
/// done, `finish()` rejects any tensor the model never asked for (transformers would report it as unused).
///
/// Canonical names are the ones transformers 5 writes (`model.language_model.*`, `model.visual.*`, `lm_head.*`).
/// Checkpoints on the Hub often still use the legacy spellings (`model.layers.*`, `visual.*`); `renames` maps those
/// prefixes, so either form loads without a conversion step.
public final class WeightStore {
    /// A legacy tensor-name prefix and the canonical prefix it stands for.
    public struct Rename: Sendable {
        /// The prefix as old checkpoints spell it (`model.layers.`).
        public let legacy: String
        /// The prefix it stands for (`model.language_model.layers.`).
        public let canonical: String
        /// Maps names starting with `legacy` to the same names starting with `canonical`.
        public init(_ legacy: String, _ canonical: String) {
            self.legacy = legacy
            self.canonical = canonical
        }
    }

    /// The checkpoint directory, for error messages.
    public let directory: String
    private let checkpoint: SafeTensorsCheckpoint
    /// Canonical name → name in the checkpoint.
    private let storedNames: [String: String]
    private var used: Set<String> = []

    /// Opens the weights in `directory`; tensors under `ignoredPrefixes` (such as Qwen3.5's `mtp.`) are never
    /// reported as unused.
    public init(directory: URL, renames: [Rename], ignoredPrefixes: [String] = []) throws(ModelError) {
        self.directory = directory.path
        do { checkpoint = try SafeTensorsCheckpoint(directory: directory.path) } catch { throw .weights(error) }
        var storedNames: [String: String] = [:]
        for stored in checkpoint.names where !ignoredPrefixes.contains(where: { stored.hasPrefix($0) }) {
            var canonical = stored
            // The longest matching legacy prefix wins, so `model.` does not shadow `model.layers.`.
            let match = renames.filter { stored.hasPrefix($0.legacy) && !stored.hasPrefix($0.canonical) }
                .max { $0.legacy.count < $1.legacy.count }
            if let match { canonical = match.canonical + stored.dropFirst(match.legacy.count) }
            if let earlier = storedNames[canonical] {
                throw .duplicateTensor(directory: directory.path, tensor: canonical, spellings: [earlier, stored])
            }
            storedNames[canonical] = stored
        }
        self.storedNames = storedNames
    }

    /// Whether the checkpoint holds `name` (canonical spelling).
    public func contains(_ name: String) -> Bool { storedNames[name] != nil }

    /// The tensor `name`, which must have shape `shape`.
    public func tensor(_ name: String, shape: [Int]) throws(ModelError) -> TensorView {
        guard let stored = storedNames[name] else { throw .missingTensor(directory: directory, tensor: name) }
        let view: TensorView
        do { view = try checkpoint.tensor(named: stored) } catch { throw .weights(error) }
        guard view.shape == shape else {
            throw .tensorShapeMismatch(directory: directory, tensor: stored, expected: shape, actual: view.shape)
        }
        used.insert(name)
        return view
    }

    /// The tensor `name` (shape `shape`) as floats: norms, biases and other small vectors kept in fp32.
    public func floats(_ name: String, shape: [Int]) throws(ModelError) -> [Float] {
        let view = try tensor(name, shape: shape)
        do { return try view.floats() } catch { throw .weights(error) }
    }

    /// The weight `name`, logically `[rows, cols]` (a convolution kernel is flattened to that), stored in `format`.
    ///
    /// A block format needs `cols` to be a multiple of 32; a matrix where it is not (Qwen2.5-VL's vision MLP, 3420
    /// wide) stays in bf16, which costs a little memory and no accuracy.
    public func matrix(_ name: String, shape: [Int], format: WeightFormat) throws(ModelError) -> QuantizedMatrix {
        let view = try tensor(name, shape: shape)
        let rows = shape[0]
        let cols = shape.dropFirst().reduce(1, *)
        let chosen = cols % format.columnMultiple == 0 ? format : .bf16
        do {
            if shape.count == 2 { return try QuantizedMatrix(converting: view, format: chosen) }
            return QuantizedMatrix(quantizing: try view.floats(), rows: rows, cols: cols, format: chosen)
        } catch {
            throw .weights(error)
        }
    }

    /// Ends loading: every tensor of the checkpoint must have been used.
    public func finish() throws(ModelError) {
        let unused = storedNames.keys.filter { !used.contains($0) }.map { storedNames[$0]! }.sorted()
        guard unused.isEmpty else { throw .unusedTensors(directory: directory, tensors: unused) }
    }
}
