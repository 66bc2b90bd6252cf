/// A strict RFC 8259 parser over UTF-8 bytes: no comments, no trailing commas, no NaN, valid UTF-8 and surrogate
/// pairs only, nesting at most `maxDepth` deep (a deeper document is refused, never a stack overflow).
public struct JSONParser {
    /// Why a document was refused, with the byte offset where it went wrong.
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Deepest nesting of arrays and objects accepted.
    public static let maxDepth = 256

    /// Parses one JSON document (surrounding whitespace allowed).
    /// - Throws: `JSONParser.Error`.
    public static func parse(_ bytes: [UInt8]) throws(JSONParser.Error) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParser.Error) in
            var parser = Cursor(bytes: buffer)
            parser.skipWhitespace()
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw parser.fail("Unexpected data after the JSON value") }
            return value
        }
    }

    /// Parses a JSON document from a string.
    public static func parse(_ text: String) throws(JSONParser.Error) -> JSONValue { try parse(Array(text.utf8)) }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        func fail(_ reason: String) -> JSONParser.Error { JSONParser.Error(offset: index, reason: reason) }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func parseValue(depth: Int) throws(JSONParser.Error) -> JSONValue {
            guard index < bytes.count else { throw fail("Unexpected end of JSON") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw fail("Unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(JSONParser.Error) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw fail("Invalid literal") }
            for i in 0..<count where bytes[index + i] != word.utf8Start[i] { throw fail("Invalid literal") }
            index += count
        }

        mutating func parseObject(depth: Int) throws(JSONParser.Error) -> JSONValue {
            guard depth <= JSONParser.maxDepth else { throw fail("JSON nested too deeply") }
            index += 1
            var object = JSONObject()
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("Expected a member name") }
                let key = try parseString()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("Expected ':'") }
                index += 1
                skipWhitespace()
                object[key] = try parseValue(depth: depth)
                skipWhitespace()
                guard index < bytes.count else { throw fail("Unexpected end of JSON") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                throw fail("Expected ',' or '}'")
            }
        }

        mutating func parseArray(depth: Int) throws(JSONParser.Error) -> JSONValue {
            guard depth <= JSONParser.maxDepth else { throw fail("JSON nested too deeply") }
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw fail("Unexpected end of JSON") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                throw fail("Expected ',' or ']'")
            }
        }

        mutating func parseString() throws(JSONParser.Error) -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes; ASCII only (most strings) needs no UTF-8 validation.
            var ascii = true
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    let text: String
                    if ascii {
                        text = String(decoding: slice, as: UTF8.self)
                    } else {
                        guard let valid = String(validating: slice, as: UTF8.self) else { throw fail("Invalid UTF-8 in string") }
                        text = valid
                    }
                    index += 1
                    return text
                }
                if b == UInt8(ascii: "\\") { break }
                if b < 0x20 { throw fail("Unescaped control character in string") }
                if b >= 0x80 { ascii = false }
                index += 1
            }
            var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    guard let text = String(validating: out, as: UTF8.self) else { throw fail("Invalid UTF-8 in string") }
                    index += 1
                    return text
                }
                if b < 0x20 { throw fail("Unescaped control character in string") }
                if b != UInt8(ascii: "\\") { out.append(b); index += 1; continue }
                index += 1
                guard index < bytes.count else { break }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail("Unpaired surrogate in string")
                        }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw fail("Unpaired surrogate in string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw fail("Unpaired surrogate in string")
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default:
                    throw fail("Invalid escape in string")
                }
            }
            throw fail("Unterminated string")
        }

        mutating func hex4() throws(JSONParser.Error) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("Invalid \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[index]
                let digit: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - 48)
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - 87)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - 55)
                default: throw fail("Invalid \\u escape")
                }
                value = value * 16 + digit
                index += 1
            }
            return value
        }

        mutating func parseNumber() throws(JSONParser.Error) -> JSONValue {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("Invalid number") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                if index < bytes.count && isDigit(bytes[index]) { throw fail("Invalid number: leading zero") }
            } else {
                while index < bytes.count && isDigit(bytes[index]) { index += 1 }
            }
            var isInteger = true
            if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail("Invalid number") }
                while index < bytes.count && isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
                isInteger = false
                index += 1
                if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail("Invalid number") }
                while index < bytes.count && isDigit(bytes[index]) { index += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if isInteger, let value = Int64(text) { return .integer(value) }
            guard let value = Double(text), value.isFinite else { throw fail("Number out of range") }
            return .double(value)
        }

        @inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    }
}
