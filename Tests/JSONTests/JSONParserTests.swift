import Testing
import JSON

struct JSONParserTests {
    @Test func objects_KeepMemberOrder_AndDuplicateKeysKeepTheLastValue() throws {
        let value = try JSONParser.parse(#"{"b":1,"a":[true,null,"x"],"b":2}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["b", "a"])
        #expect(object["b"] == .integer(2))
        #expect(object["a"] == .array([.bool(true), .null, .string("x")]))
    }

    @Test func numbers_TellIntegersFromFractions() throws {
        #expect(try JSONParser.parse("7000") == .integer(7000))
        #expect(try JSONParser.parse("-0") == .integer(0))
        #expect(try JSONParser.parse("1.0") == .double(1.0))
        #expect(try JSONParser.parse("1e2") == .double(100))
        #expect(try JSONParser.parse("99999999999999999999") == .double(1e20))
    }

    @Test func strings_DecodeEscapesAndSurrogatePairs() throws {
        #expect(try JSONParser.parse(#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#) == .string("a\"\\/\u{08}\u{0C}\n\r\té😀"))
    }

    static let invalid = [
        "", "{", "[1,]", "{\"a\":1,}", "{'a':1}", "01", "1.", ".5", "-", "+1", "1e", "NaN", "Infinity", "tru", "nul",
        "\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\u{01}b\"", "{\"a\" 1}", "[1 2]", "{} {}", "1e999",
        "/* c */ {}",
    ]

    @Test(arguments: invalid)
    func invalidDocuments_AreRefused(_ text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(text) }
    }

    @Test func invalidUTF8_IsRefused() {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func deepNesting_IsRefusedNotACrash() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        _ = try JSONParser.parse(ok)
    }

    @Test func writer_PrintsTimestampsWithThreeDecimals() {
        func text(_ d: Double) -> String { String(decoding: JSONWriter.encode(.double(d)), as: UTF8.self) }
        #expect(text(1_764_547_200) == "1764547200.000")
        #expect(text(1_764_547_200.1) == "1764547200.100")
        #expect(text(1_764_547_200.123) == "1764547200.123")
        #expect(text(-0.5) == "-0.500")
        #expect(text(0.0001) == "0.0001")
        #expect(text(.nan) == "null")
    }

    @Test func writer_PrintsIntegersExactly() {
        func text(_ i: Int64) -> String { String(decoding: JSONWriter.encode(.integer(i)), as: UTF8.self) }
        for value: Int64 in [0, 7, 9, 10, 99, 100, -1, -10, 1_764_547_200_000, .max, .min] {
            #expect(text(value) == String(value))
        }
    }

    @Test func object_KeepsOrderAndLastValueWhateverItsSize() throws {
        // Small objects search their members; from 17 members on an index is kept: both must behave the same.
        for size in [3, 16, 17, 40] {
            let text = "{" + (0..<size).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + #","k1":"again"}"#
            let object = try #require(try JSONParser.parse(text).objectValue)
            #expect(object.count == size)
            #expect(object.keys == (0..<size).map { "k\($0)" })
            #expect(object["k1"] == .string("again"))
            #expect(object["k\(size - 1)"] == .integer(Int64(size - 1)))
            #expect(object["missing"] == nil)
            var edited = object
            edited["k0"] = nil
            edited["new"] = .bool(true)
            #expect(edited.keys == (1..<size).map { "k\($0)" } + ["new"])
            #expect(edited["k0"] == nil && edited["k2"] == .integer(2) && edited["new"] == .bool(true))
        }
    }

    @Test func writer_RoundTripsThroughTheParser() throws {
        var object = JSONObject()
        object["s"] = .string("quote\" backslash\\ newline\n tab\t ctrl\u{01} é")
        object["n"] = .integer(-12)
        object["d"] = .double(1.5)
        object["a"] = .array([.bool(false), .null, .object(["k": .string("v")])])
        let bytes = JSONWriter.encode(.object(object))
        #expect(try JSONParser.parse(bytes) == .object(object))
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix(#"{"s":"quote\" backslash\\ newline\n tab\t ctrl\u0001 é""#))
    }
}
