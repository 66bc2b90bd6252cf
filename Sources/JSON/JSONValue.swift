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
    public private(set) var keys: [String] = []
    private var storage: [String: JSONValue] = [:]

    public init() {}

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    public subscript(_ key: String) -> JSONValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Members in order.
    public var members: [(key: String, value: JSONValue)] { keys.map { ($0, storage[$0]!) } }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool { lhs.keys == rhs.keys && lhs.storage == rhs.storage }
}
