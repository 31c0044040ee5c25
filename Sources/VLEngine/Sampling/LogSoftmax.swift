import Foundation
import VLCore

/// Log-softmax over a logits row, for label scoring and for the log-probabilities reported next to tokens.
///
/// Sums run in `Double` over `Float` exponentials (the kernels' `exp`, within 1 ulp), so a log-probability is good to
/// about 1e-7 however long the row. Entries of -inf (tokens a processor removed) count as probability 0. Results are
/// undefined for rows holding NaN.
public enum LogSoftmax {
    /// `log Σ exp(row[i])`, computed as `max + log Σ exp(row[i] - max)` so nothing overflows; -inf for an empty row or
    /// one that is -inf throughout.
    public static func logSumExp(_ row: UnsafeBufferPointer<Float>) -> Double {
        let maximum = largest(in: row)
        guard maximum.isFinite else { return maximum == .infinity ? .infinity : -.infinity }
        return Double(maximum) + log(sumOfExponentials(row, shiftedBy: maximum))
    }

    /// `log softmax(row)[token]`: the log-probability of `token` under the distribution the row's logits describe.
    public static func logProbability(of token: Int, in row: UnsafeBufferPointer<Float>) -> Double {
        precondition(row.indices.contains(token), "token \(token) is outside the logits row of \(row.count)")
        return Double(row[token]) - logSumExp(row)
    }

    /// Replaces every logit by its log-probability, in place.
    public static func apply(to row: UnsafeMutableBufferPointer<Float>) {
        let normaliser = logSumExp(UnsafeBufferPointer(row))
        guard normaliser.isFinite else { return }
        for index in row.indices {
            row[index] = Float(Double(row[index]) - normaliser)
        }
    }

    /// The largest value of `row`, ignoring NaN; -inf for an empty row.
    static func largest(in row: UnsafeBufferPointer<Float>) -> Float {
        var maximum = -Float.infinity
        for value in row where value > maximum {
            maximum = value
        }
        return maximum
    }

    /// `Σ exp(row[i] - shift)` in `Double`, the exponentials taken in blocks through a small stack buffer, so the
    /// call allocates nothing on the heap.
    static func sumOfExponentials(_ row: UnsafeBufferPointer<Float>, shiftedBy shift: Float) -> Double {
        let block = 1024
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: block) { buffer in
            var sum = 0.0
            var start = 0
            while start < row.count {
                let count = min(block, row.count - start)
                for offset in 0..<count {
                    buffer[offset] = row[start + offset] - shift
                }
                let slice = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
                Kernels.exp(UnsafeBufferPointer(slice), into: slice)
                for value in slice {
                    sum += Double(value)
                }
                start += count
            }
            return sum
        }
    }
}

extension Array where Element == Float {
    /// `log softmax(self)[token]`; see `LogSoftmax.logProbability(of:in:)`.
    public func logProbability(of token: Int) -> Double {
        withUnsafeBufferPointer { LogSoftmax.logProbability(of: token, in: $0) }
    }
}
