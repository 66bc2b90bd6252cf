import JSON

/// Checks a decoded request against its input shape, in the stages of spec R10:
/// 1. JSON types (spec R8): the first mismatch is a `SerializationException`;
/// 2. members not in the model (spec R9): reported for a warning, or a `ValidationException` under `--strict-members`;
/// 3. constraints (spec R14–R22): every violation, in one `ValidationException` with AWS's message format.
///
/// ```swift
/// let validator = ShapeValidator(model: .sageMakerClusters)
/// let outcome = validator.validate(input, shape: "CreateClusterRequest", strictMembers: false)
/// if let error = outcome.error { throw error }
/// ```
public struct ShapeValidator: Sendable {
    public let model: ServiceModel

    public init(model: ServiceModel) {
        self.model = model
    }

    /// A request member the model does not have (spec R9).
    public struct UnknownMember: Sendable, Equatable {
        /// Where it was found, botocore style: `input`, or e.g. `InstanceGroups[0].KubernetesConfig.Taints[0]`.
        public let location: String
        public let name: String
        /// The member names the model allows there, in model order.
        public let allowed: [String]

        /// `Unknown parameter in <loc>: "<Name>", must be one of: <M1>, <M2>, …`
        public var line: String { "Unknown parameter in \(location): \"\(name)\", must be one of: \(allowed.joined(separator: ", "))" }
    }

    public struct Outcome: Sendable {
        /// The error to answer, nil when the request passes.
        public var error: AWSError?
        /// Unknown members found (also when they were only to be logged).
        public var unknownMembers: [UnknownMember]
    }

    /// Runs the three stages on `input` against the structure shape `shape`.
    public func validate(_ input: JSONObject, shape: String, strictMembers: Bool) -> Outcome {
        var unknown: [UnknownMember] = []
        if let typeError = checkTypes(.object(input), shape: model[shape], path: "", location: "input", unknown: &unknown) {
            return Outcome(error: .serialization(typeError), unknownMembers: unknown)
        }
        if strictMembers && !unknown.isEmpty {
            let message = (["Parameter validation failed:"] + unknown.map(\.line)).joined(separator: "\n")
            return Outcome(error: .validation(message), unknownMembers: unknown)
        }
        let violations = self.violations(input, shape: shape)
        guard !violations.isEmpty else { return Outcome(error: nil, unknownMembers: unknown) }
        return Outcome(error: .validation(Self.message(violations)), unknownMembers: unknown)
    }

    /// `1 validation error detected: <e1>` or `<N> validation errors detected: <e1>; <e2>; …` (spec R16).
    public static func message(_ violations: [String]) -> String {
        let count = violations.count
        let prefix = count == 1 ? "1 validation error detected: " : "\(count) validation errors detected: "
        return prefix + violations.joined(separator: "; ")
    }

    // MARK: - Stage 1 and 2: JSON types and unknown members

    /// Returns the message of the first type mismatch (spec R8), walking the request in its own order; collects unknown
    /// members on the way.
    func checkTypes(_ value: JSONValue, shape: Shape, path: String, location: String, unknown: inout [UnknownMember]) -> String? {
        func mismatch(_ expected: String) -> String {
            "Unexpected JSON type at '\(path)': expected \(expected), found \(value.typeName)"
        }
        switch shape.kind {
        case .structure:
            guard case .object(let object) = value else { return mismatch("structure") }
            for (name, memberValue) in object.members {
                guard let member = shape.members.first(where: { $0.name == name }) else {
                    unknown.append(UnknownMember(location: location, name: name, allowed: shape.members.map(\.name)))
                    continue
                }
                if memberValue == .null { continue }
                if let error = checkTypes(
                    memberValue, shape: model[member.shape], path: Self.join(path, member.name),
                    location: location == "input" ? name : "\(location).\(name)", unknown: &unknown
                ) { return error }
            }
        case .list:
            guard case .array(let elements) = value else { return mismatch("list") }
            let element = model[shape.listMember!]
            for (index, item) in elements.enumerated() {
                let itemPath = "\(path).\(index + 1).member"
                if item == .null { return "Unexpected JSON type at '\(itemPath)': expected \(Self.expectedName(element.kind)), found null" }
                if let error = checkTypes(item, shape: element, path: itemPath, location: "\(location)[\(index)]", unknown: &unknown) {
                    return error
                }
            }
        case .map:
            guard case .object(let object) = value else { return mismatch("map") }
            let valueShape = model[shape.mapValue!]
            for (key, item) in object.members {
                let itemPath = "\(path).\(key)"
                if item == .null { return "Unexpected JSON type at '\(itemPath)': expected \(Self.expectedName(valueShape.kind)), found null" }
                if let error = checkTypes(item, shape: valueShape, path: itemPath, location: "\(location).\(key)", unknown: &unknown) {
                    return error
                }
            }
        case .string, .blob:
            guard case .string = value else { return mismatch("string") }
        case .boolean:
            guard case .bool = value else { return mismatch("boolean") }
        case .timestamp:
            switch value {
            case .integer, .double: break
            default: return mismatch("timestamp")
            }
        case .integer, .long:
            let bits = shape.kind == .integer ? 32 : 64
            switch value {
            case .integer(let i):
                if bits == 32 && Int32(exactly: i) == nil { return "Value at '\(path)' is not a valid 32-bit integer" }
            case .double:
                return "Value at '\(path)' is not a valid \(bits)-bit integer"
            default:
                return mismatch("integer")
            }
        case .float, .double:
            switch value {
            case .integer, .double: break
            default: return mismatch("double")
            }
        }
        return nil
    }

    static func expectedName(_ kind: Shape.Kind) -> String {
        switch kind {
        case .structure: "structure"
        case .list: "list"
        case .map: "map"
        case .string, .blob: "string"
        case .integer, .long: "integer"
        case .boolean: "boolean"
        case .timestamp: "timestamp"
        case .float, .double: "double"
        }
    }

    // MARK: - Stage 3: constraints

    /// Every constraint violation of `input`, in the order of spec R22 (depth first, model member order; per member:
    /// required, length, range, pattern, enum, then children). Assumes the types were checked (stage 1).
    public func violations(_ input: JSONObject, shape: String) -> [String] {
        var out: [String] = []
        checkStructure(input, shape: model[shape], path: "", into: &out)
        return out
    }

    private func checkStructure(_ object: JSONObject, shape: Shape, path: String, into out: inout [String]) {
        if shape.isUnion {
            let set = shape.members.filter { object[$0.name] != nil && object[$0.name] != .null }
            guard set.count == 1 else {
                out.append("Value at '\(path)' failed to satisfy constraint: Member must have exactly one member set")
                return
            }
        }
        for member in shape.members {
            let memberPath = Self.join(path, member.name)
            guard let value = object[member.name], value != .null else {
                if shape.required.contains(member.name) {
                    out.append("Value null at '\(memberPath)' failed to satisfy constraint: Member must not be null")
                }
                continue
            }
            checkValue(value, shape: model[member.shape], path: memberPath, into: &out)
        }
    }

    private func checkValue(_ value: JSONValue, shape: Shape, path: String, into out: inout [String]) {
        for phrase in failedPhrases(value, shape: shape) {
            out.append("Value '\(render(value, shape: shape))' at '\(path)' failed to satisfy constraint: \(phrase)")
        }
        switch (shape.kind, value) {
        case (.structure, .object(let object)):
            checkStructure(object, shape: shape, path: path, into: &out)
        case (.list, .array(let elements)):
            let element = model[shape.listMember!]
            if element.kind == .structure {
                for (index, item) in elements.enumerated() {
                    if case .object(let object) = item {
                        checkStructure(object, shape: element, path: "\(path).\(index + 1).member", into: &out)
                    }
                }
            } else if elements.contains(where: { !failedPhrases($0, shape: element).isEmpty }) {
                out.append("Value '\(render(value, shape: shape))' at '\(path)' failed to satisfy constraint: "
                    + "Member must satisfy constraint: [\(possiblePhrases(element).joined(separator: ", "))]")
            }
        case (.map, .object(let object)):
            let key = model[shape.mapKey!], valueShape = model[shape.mapValue!]
            if object.keys.contains(where: { !failedPhrases(.string($0), shape: key).isEmpty }) {
                out.append("Value '\(render(value, shape: shape))' at '\(path)' failed to satisfy constraint: "
                    + "Map keys must satisfy constraint: [\(possiblePhrases(key).joined(separator: ", "))]")
            }
            if valueShape.kind == .structure {
                for (name, item) in object.members {
                    if case .object(let inner) = item { checkStructure(inner, shape: valueShape, path: "\(path).\(name)", into: &out) }
                }
            } else if object.members.contains(where: { !failedPhrases($0.value, shape: valueShape).isEmpty }) {
                out.append("Value '\(render(value, shape: shape))' at '\(path)' failed to satisfy constraint: "
                    + "Map value must satisfy constraint: [\(possiblePhrases(valueShape).joined(separator: ", "))]")
            }
        default:
            break
        }
    }

    /// The phrases of the constraints `value` violates, in R22 order (length max, length min, range max, range min,
    /// pattern, enum).
    private func failedPhrases(_ value: JSONValue, shape: Shape) -> [String] {
        var phrases: [String] = []
        let length: Int64? = switch (shape.kind, value) {
        case (.string, .string(let s)): Int64(s.unicodeScalars.count)
        case (.list, .array(let a)): Int64(a.count)
        case (.map, .object(let o)): Int64(o.count)
        default: nil
        }
        if let length {
            if let max = shape.max, length > max { phrases.append(Self.lengthMax(max)) }
            if let min = shape.min, min > 0, length < min { phrases.append(Self.lengthMin(min)) }
        }
        if case .integer(let number) = value, shape.kind == .integer || shape.kind == .long {
            if let max = shape.max, number > max { phrases.append(Self.valueMax(max)) }
            if let min = shape.min, number < min { phrases.append(Self.valueMin(min)) }
        }
        // R17: floats and doubles have ranges too (VCpu, MemoryInGiB: 0–10000000), any JSON number.
        if shape.kind == .float || shape.kind == .double, let number = value.numberValue {
            if let max = shape.max, number > Double(max) { phrases.append(Self.valueMax(max)) }
            if let min = shape.min, number < Double(min) { phrases.append(Self.valueMin(min)) }
        }
        if case .string(let s) = value {
            if let matcher = shape.patternMatcher, !matcher.matches(s) { phrases.append(Self.pattern(matcher.pattern)) }
            if let values = shape.enumValues, !values.contains(s) { phrases.append(Self.enumSet(values)) }
        }
        return phrases
    }

    /// Every phrase a value of `shape` could fail (spec R19), in R22 order.
    private func possiblePhrases(_ shape: Shape) -> [String] {
        var phrases: [String] = []
        switch shape.kind {
        case .string, .list, .map:
            if let max = shape.max { phrases.append(Self.lengthMax(max)) }
            if let min = shape.min, min > 0 { phrases.append(Self.lengthMin(min)) }
        case .integer, .long, .float, .double:
            if let max = shape.max { phrases.append(Self.valueMax(max)) }
            if let min = shape.min { phrases.append(Self.valueMin(min)) }
        default:
            break
        }
        if let pattern = shape.pattern { phrases.append(Self.pattern(pattern)) }
        if let values = shape.enumValues { phrases.append(Self.enumSet(values)) }
        return phrases
    }

    // Phrases of spec R17.
    static func lengthMax(_ n: Int64) -> String { "Member must have length less than or equal to \(n)" }
    static func lengthMin(_ n: Int64) -> String { "Member must have length greater than or equal to \(n)" }
    static func valueMax(_ n: Int64) -> String { "Member must have value less than or equal to \(n)" }
    static func valueMin(_ n: Int64) -> String { "Member must have value greater than or equal to \(n)" }
    static func pattern(_ p: String) -> String { "Member must satisfy regular expression pattern: ^\(p)$" }
    static func enumSet(_ values: [String]) -> String { "Member must satisfy enum value set: [\(values.joined(separator: ", "))]" }

    /// A value as spec R20 renders it: strings raw, numbers decimal, booleans, lists `[a, b]`, maps `{k=v}`, structures
    /// `{Member=value, …}` in model order without absent members.
    func render(_ value: JSONValue, shape: Shape?) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .double(let d): return "\(d)"
        case .string(let s): return s
        case .array(let elements):
            let element = shape?.listMember.map { model[$0] }
            return "[" + elements.map { render($0, shape: element) }.joined(separator: ", ") + "]"
        case .object(let object):
            if let shape, shape.kind == .structure {
                let parts = shape.members.compactMap { member -> String? in
                    guard let v = object[member.name], v != .null else { return nil }
                    return "\(member.name)=\(render(v, shape: model[member.shape]))"
                }
                return "{" + parts.joined(separator: ", ") + "}"
            }
            let valueShape = shape?.mapValue.map { model[$0] }
            return "{" + object.members.map { "\($0.key)=\(render($0.value, shape: valueShape))" }.joined(separator: ", ") + "}"
        }
    }

    /// `parent.member` with the member's first letter lower-cased (spec R18, R22: `FSxLustreConfig` → `fSxLustreConfig`).
    static func join(_ path: String, _ member: String) -> String {
        let lowered = member.prefix(1).lowercased() + member.dropFirst()
        return path.isEmpty ? lowered : "\(path).\(lowered)"
    }
}
