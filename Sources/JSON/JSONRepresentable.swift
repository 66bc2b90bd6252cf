/// A type that converts to and from a `JSONValue` the way the AWS JSON 1.1 protocol encodes it (spec R8, R12).
///
/// The generated SageMaker shapes conform; decoding runs after model validation, so a failure there is a bug.
public protocol JSONRepresentable: Sendable {
    /// - Throws: `JSONDecodingError` when `json` does not have this type's form.
    init(json: JSONValue) throws(JSONDecodingError)
    var jsonValue: JSONValue { get }
}

/// A JSON value that does not have the form a typed shape needs.
public struct JSONDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where, as member names from the top (`InstanceGroups[0].InstanceCount`).
    public var path: String
    public var reason: String

    public init(path: String = "", reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The same error one step further from the top.
    public func under(_ step: String) -> JSONDecodingError {
        JSONDecodingError(path: path.isEmpty ? step : (path.hasPrefix("[") ? step + path : step + "." + path), reason: reason)
    }

    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

extension String: JSONRepresentable {
    public init(json: JSONValue) throws(JSONDecodingError) {
        guard case .string(let s) = json else { throw JSONDecodingError(reason: "expected a string, found \(json.typeName)") }
        self = s
    }
    public var jsonValue: JSONValue { .string(self) }
}

extension Int: JSONRepresentable {
    public init(json: JSONValue) throws(JSONDecodingError) {
        guard case .integer(let i) = json, let value = Int(exactly: i) else {
            throw JSONDecodingError(reason: "expected an integer, found \(json.typeName)")
        }
        self = value
    }
    public var jsonValue: JSONValue { .integer(Int64(self)) }
}

extension Int64: JSONRepresentable {
    public init(json: JSONValue) throws(JSONDecodingError) {
        guard case .integer(let i) = json else { throw JSONDecodingError(reason: "expected an integer, found \(json.typeName)") }
        self = i
    }
    public var jsonValue: JSONValue { .integer(self) }
}

extension Bool: JSONRepresentable {
    public init(json: JSONValue) throws(JSONDecodingError) {
        guard case .bool(let b) = json else { throw JSONDecodingError(reason: "expected a boolean, found \(json.typeName)") }
        self = b
    }
    public var jsonValue: JSONValue { .bool(self) }
}

extension Double: JSONRepresentable {
    public init(json: JSONValue) throws(JSONDecodingError) {
        switch json {
        case .integer(let i): self = Double(i)
        case .double(let d): self = d
        default: throw JSONDecodingError(reason: "expected a number, found \(json.typeName)")
        }
    }
    public var jsonValue: JSONValue { .double(self) }
}

extension Array: JSONRepresentable where Element: JSONRepresentable {
    public init(json: JSONValue) throws(JSONDecodingError) {
        guard case .array(let elements) = json else { throw JSONDecodingError(reason: "expected a list, found \(json.typeName)") }
        var out: [Element] = []
        out.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            do { out.append(try Element(json: element)) } catch { throw error.under("[\(index)]") }
        }
        self = out
    }
    public var jsonValue: JSONValue { .array(map { $0.jsonValue }) }  // a closure: a key path here costs a runtime projection per element
}

extension Dictionary: JSONRepresentable where Key == String, Value: JSONRepresentable {
    public init(json: JSONValue) throws(JSONDecodingError) {
        guard case .object(let object) = json else { throw JSONDecodingError(reason: "expected a map, found \(json.typeName)") }
        var out: [String: Value] = [:]
        for (key, value) in object.members {
            do { out[key] = try Value(json: value) } catch { throw error.under(key) }
        }
        self = out
    }
    /// Keys in sorted order, so output is stable.
    public var jsonValue: JSONValue {
        var object = JSONObject()
        for key in keys.sorted() { object[key] = self[key]!.jsonValue }
        return .object(object)
    }
}

extension JSONObject {
    /// Decodes member `name` (nil when absent or null).
    public func decode<T: JSONRepresentable>(_ name: String, as type: T.Type = T.self) throws(JSONDecodingError) -> T? {
        guard let value = self[name], value != .null else { return nil }
        do { return try T(json: value) } catch { throw error.under(name) }
    }

    /// Decodes required member `name`.
    /// - Throws: `JSONDecodingError` when it is absent.
    public func decodeRequired<T: JSONRepresentable>(_ name: String, as type: T.Type = T.self) throws(JSONDecodingError) -> T {
        guard let value: T = try decode(name) else { throw JSONDecodingError(path: name, reason: "required member is missing") }
        return value
    }

    /// Sets member `name` to `value`'s JSON, or leaves it out when `value` is nil (spec R11: never `null`).
    public mutating func encode<T: JSONRepresentable>(_ name: String, _ value: T?) {
        if let value { self[name] = value.jsonValue }
    }
}
