/// A JSON value (RFC 8259) as decoded from a request or built for a response.
///
/// Integers without fraction or exponent that fit in 64 bits are `.integer`; every other number is `.double`, so the
/// validator can tell `1` from `1.0` (spec R8: a fractional value for an integer member is a SerializationException).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The JSON type name as spec R8 words it: `string`, `number`, `boolean`, `array`, `object` (or `null`).
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    /// An `.integer` that fits in `Int`.
    public var intValue: Int? { if case .integer(let i) = self { Int(exactly: i) } else { nil } }
    /// A number (`.integer` or `.double`) as a `Double`.
    public var numberValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    public subscript(_ key: String) -> JSONValue? { objectValue?[key] }
}

/// A JSON object that keeps its members in the order they were sent (spec R9 reports unknown members in request
/// order). A repeated key keeps its first position and its last value (spec R8: "duplicate keys: last wins").
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// Members in order. Most objects have a handful of members: a linear search beats hashing every key.
    private var entries: [(key: String, value: JSONValue)] = []
    /// Position of each key, kept once an object has more than `indexThreshold` members (a request with 100,000 keys
    /// must not cost 100,000² comparisons to parse).
    private var index: [String: Int]?
    private static let indexThreshold = 16

    public init() {}

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        entries.reserveCapacity(elements.count)
        for (key, value) in elements { self[key] = value }
    }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        return entries.firstIndex { $0.key == key }
    }

    public subscript(_ key: String) -> JSONValue? {
        get { position(of: key).map { entries[$0].value } }
        set {
            if let newValue {
                if let i = position(of: key) {
                    entries[i].value = newValue
                } else {
                    entries.append((key, newValue))
                    if index != nil {
                        index![key] = entries.count - 1
                    } else if entries.count > Self.indexThreshold {
                        index = Dictionary(entries.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { a, _ in a })
                    }
                }
            } else if let i = position(of: key) {
                entries.remove(at: i)
                if index != nil { index = Dictionary(entries.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { a, _ in a }) }
            }
        }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Member names in order.
    public var keys: [String] { entries.map { $0.key } }

    /// Members in order.
    public var members: [(key: String, value: JSONValue)] { entries }

    /// Same members in the same order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
