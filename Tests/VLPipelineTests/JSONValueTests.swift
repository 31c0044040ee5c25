import Testing

@testable import VLPipeline

@Suite struct JSONValueTests {
    @Test func serializationSortsKeysAndEscapes() throws {
        let value = JSONValue.object([
            "b": .array([.integer(-3), .number(0.25), .bool(true), .null, .number(.nan)]),
            "a": .string("quote \" slash / back \\ tab \t newline \n bell \u{07} é"),
            "B": .object(["z": .integer(1), "y": .string("")]),
        ])
        #expect(
            value.serialized
                == #"{"B":{"y":"","z":1},"a":"quote \" slash / back \\ tab \t newline \n bell \u0007 é","b":[-3,0.25,true,null,null]}"#
        )
    }

    @Test func parsingRoundTripsAndKeepsIntegersApartFromNumbers() throws {
        let text = #"{"a":[1,2.5,true,false,null],"b":{"c":"d\u00e9"},"n":-7}"#
        let value = try JSONValue.parse(text)
        #expect(value.objectValue?["n"] == .integer(-7))
        #expect(value.objectValue?["a"] == .array([.integer(1), .number(2.5), .bool(true), .bool(false), .null]))
        #expect(try JSONValue.parse(value.serialized) == value)
        // Whole doubles are written as integers, so writing what was parsed gives the same text again.
        let whole = JSONValue.object(["t": .number(0), "p": .number(1), "q": .number(0.5)])
        #expect(whole.serialized == #"{"p":1,"q":0.5,"t":0}"#)
        #expect(try JSONValue.parse(whole.serialized).serialized == whole.serialized)
        #expect(throws: (any Error).self) { try JSONValue.parse("{\"a\":") }
    }
}

/// The fast reader of record lines agrees with a full parse, and declines what it does not read.
@Suite struct RecordScannerTests {
    @Test(arguments: [
        #"{"generated_tokens":3,"id":"a/b.png","model":"m","text":"x, \"y\" {z}","timings":{"engine_ms":1.5}}"#,
        #"{"error":{"kind":"notAnImage","message":"a \\ b"},"id":"é ü.jpg","pipeline":"p"}"#,
        #"{"fields":{"a":[1,2,{"b":null}],"c":true},"id":"x","probability":-1.5e-3}"#,
    ])
    func recordsWrittenByTheRunnerAreRead(line: String) throws {
        let record = try #require(try JSONValue.parse(line).objectValue)
        let scanned = try #require(RecordScanner.scan(line[...]))
        #expect(scanned.id == record["id"]?.stringValue)
        #expect(scanned.isError == (record["error"] != nil))
    }

    @Test(arguments: [
        #"{"id":"with \"escape\""}"#, #"{ "id": "spaced" }"#, #"{"id":"a"} trailing"#, #"{"id":"a","#,
        #"{"text":"x"}"#, #"{"id":3}"#, #"["id","a"]"#, "", #"{"id":"a","n":1x}"#,
    ])
    func otherLinesAreLeftToTheFullParser(line: String) {
        #expect(RecordScanner.scan(line[...]) == nil)
    }
}
