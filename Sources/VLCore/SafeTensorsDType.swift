/// An element type of a safetensors tensor; the raw value is the header's spelling.
///
/// The set mirrors `Dtype` in huggingface/safetensors `safetensors/src/tensor.rs`, except the sub-byte F4/F6 types,
/// which no checkpoint vlbatch reads uses.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    /// Boolean, one byte.
    case bool = "BOOL"
    /// Unsigned 8-bit integer.
    case uint8 = "U8"
    /// Signed 8-bit integer.
    case int8 = "I8"
    /// 8-bit float with 5 exponent and 2 mantissa bits.
    case float8E5M2 = "F8_E5M2"
    /// 8-bit float with 4 exponent and 3 mantissa bits.
    case float8E4M3 = "F8_E4M3"
    /// Signed 16-bit integer.
    case int16 = "I16"
    /// Unsigned 16-bit integer.
    case uint16 = "U16"
    /// IEEE half-precision float.
    case float16 = "F16"
    /// bfloat16: the upper 16 bits of an IEEE float32.
    case bfloat16 = "BF16"
    /// Signed 32-bit integer.
    case int32 = "I32"
    /// Unsigned 32-bit integer.
    case uint32 = "U32"
    /// IEEE single-precision float.
    case float32 = "F32"
    /// IEEE double-precision float.
    case float64 = "F64"
    /// Signed 64-bit integer.
    case int64 = "I64"
    /// Unsigned 64-bit integer.
    case uint64 = "U64"

    /// The size of one element in bytes.
    public var size: Int {
        switch self {
        case .bool, .uint8, .int8, .float8E5M2, .float8E4M3: 1
        case .int16, .uint16, .float16, .bfloat16: 2
        case .int32, .uint32, .float32: 4
        case .float64, .int64, .uint64: 8
        }
    }
}
