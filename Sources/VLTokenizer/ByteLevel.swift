/// GPT-2's byte ↔ character map, which makes every byte of a byte-level BPE vocabulary a printable character.
///
/// Port of `bytes_to_unicode` (openai/gpt-2 `src/encoder.py`, HF tokenizers `pre_tokenizers/byte_level.rs`): the
/// printable bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` stand for themselves, the other 68 bytes take U+0100…U+0143 in byte
/// order, so the space byte is `Ġ` (U+0120) and the newline byte `Ċ` (U+010A).
enum ByteLevel {
    /// The character standing for each byte, indexed by byte.
    static let characters: [Unicode.Scalar] = {
        var characters: [Unicode.Scalar] = []
        var next: UInt32 = 0x100
        for byte in UInt32(0)...0xFF {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                characters.append(Unicode.Scalar(byte)!)
            } else {
                characters.append(Unicode.Scalar(next)!)
                next += 1
            }
        }
        return characters
    }()

    /// The byte each character stands for, indexed by scalar value (all are below U+0144); −1 for other scalars.
    private static let bytes: [Int16] = {
        var bytes = [Int16](repeating: -1, count: 0x144)
        for (byte, character) in characters.enumerated() { bytes[Int(character.value)] = Int16(byte) }
        return bytes
    }()

    /// Appends the bytes that byte-level `text` (UTF-8) stands for; returns `false`, leaving `output` as it was, if a
    /// character is outside the map.
    static func appendBytes(ofText text: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) -> Bool {
        let start = output.count
        var position = 0
        // Every mapped character is below U+0144: one UTF-8 byte, or two with a lead byte of C2…C5.
        while position < text.count {
            var value = Int(text[position])
            if value >= 0x80 {
                guard (0xC2...0xC5).contains(value), position + 1 < text.count, text[position + 1] & 0xC0 == 0x80 else {
                    output.removeSubrange(start...)
                    return false
                }
                value = (value & 0x1F) << 6 | Int(text[position + 1] & 0x3F)
                position += 1
            }
            position += 1
            guard value < bytes.count, bytes[value] >= 0 else {
                output.removeSubrange(start...)
                return false
            }
            output.append(UInt8(bytes[value]))
        }
        return true
    }

    /// The byte-level text of `bytes`: each byte's character.
    static func text(ofBytes bytes: some Sequence<UInt8>) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(characters[Int(byte)]) }
        return String(text)
    }

    /// The bytes a token decodes to, as HF's ByteLevel decoder computes them: each character mapped back to its
    /// byte or, when any character is outside the map (a space in an added token, say), the text's own UTF-8
    /// (tokenizers `decoders/byte_level.rs`, `decode_chain`).
    static func appendDecodedBytes(ofText text: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        if !appendBytes(ofText: text, to: &output) { output.append(contentsOf: text) }
    }
}
