/// Everything that can go wrong while setting up sampling: a parameter out of its range.
///
/// The checks mirror transformers' `GenerationConfig.validate()` and the processors' own constructors, so a value
/// the reference would reject is rejected here before any work starts, with the name of the parameter (as a
/// `generation_config.json` key, which is also what the command-line flags are named after) and what to do.
public enum SamplingError: Error, Equatable, CustomStringConvertible {
    /// A parameter lies outside the range its processor accepts.
    case invalidParameter(name: String, value: String, reason: String)

    /// A message naming the parameter and the accepted range.
    public var description: String {
        switch self {
        case .invalidParameter(let name, let value, let reason):
            return "sampling parameter \(name) = \(value): \(reason)"
        }
    }
}
