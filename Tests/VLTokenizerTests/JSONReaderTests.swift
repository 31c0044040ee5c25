import Testing

@testable import VLTokenizer

/// The purpose-built JSON reader behind tokenizer loading.
@Suite struct JSONReaderTests {
    @Test(arguments: [
        (#""plain""#, JSONValue.string("plain")),
        (#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00ĠĊ""#, .string("a\"\\/\u{8}\u{C}\n\r\té😀ĠĊ")),
        ("-1.5e3", .number(-1500)), ("0", .number(0)), ("true", .bool(true)), ("null", .null),
        (
            #" { "a" : [ 1 , { } , [ ] ] , "b" : false } "#,
            .object(["a": .array([.number(1), .object([:]), .array([])]), "b": .bool(false)])
        ),
    ])
    func values(json: String, expected: JSONValue) throws {
        var reader = JSONReader(bytes: Array(json.utf8), path: "test.json")
        #expect(try reader.readValue() == expected)
        try reader.expectEnd()
    }

    /// The streaming calls the vocabulary reader uses: keys as bytes, integer values.
    @Test func membersAsBytesAndIntegers() throws {
        var reader = JSONReader(bytes: Array(#"{"Ġa": 7, "\u0120b": -2}"#.utf8), path: "test.json")
        var members = try reader.beginObject()
        var entries: [([UInt8], Int)] = []
        while try reader.next(&members) {
            var key: [UInt8] = []
            try reader.readKey(appendingTo: &key)
            entries.append((key, try reader.readInteger()))
        }
        #expect(entries.map(\.0) == [Array("Ġa".utf8), Array("Ġb".utf8)])
        #expect(entries.map(\.1) == [7, -2])
    }

    @Test(arguments: ["1.5", "1e3", "-", "99999999999999999999"])
    func integersRejectOtherNumbers(json: String) {
        var reader = JSONReader(bytes: Array(json.utf8), path: "test.json")
        #expect(throws: TokenizerError.self) { try reader.readInteger() }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        var reader = JSONReader(bytes: Array((String(repeating: "[", count: 100_000)).utf8), path: "test.json")
        #expect(throws: TokenizerError.self) { try reader.readValue() }
    }
}
