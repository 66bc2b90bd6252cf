import JSON

/// Checks a response body against its output shape (spec R11): JSON types, model-required members, enum values, no
/// `null` and no member the model does not have. Patterns are not checked (real values such as `apne1-az1` break
/// some). Used in debug builds and tests (`--check-responses`): a mismatch answers 500, which fails the test.
public struct OutputShapeChecker: Sendable {
    public let model: ServiceModel
    /// Required members that may be absent, as `Shape.Member` (spec R11: ListClusterNodes summaries of slots without an
    /// instance omit `InstanceId`, R93).
    public static let allowedAbsent: Set<String> = ["ClusterNodeSummary.InstanceId"]

    public init(model: ServiceModel) {
        self.model = model
    }

    /// Every problem of `output` against the structure shape `shape`, as `<path>: <problem>`; empty when it conforms.
    public func problems(_ output: JSONObject, shape: String) -> [String] {
        var out: [String] = []
        check(.object(output), shape: model[shape], path: shape, into: &out)
        return out
    }

    private func check(_ value: JSONValue, shape: Shape, path: String, into out: inout [String]) {
        func wrong(_ expected: String) { out.append("\(path): expected \(expected), found \(value.typeName)") }
        switch (shape.kind, value) {
        case (_, .null):
            out.append("\(path): null is never sent (docs/behaviour.md#r11)")
        case (.structure, .object(let object)):
            for (name, member) in object.members {
                guard let spec = shape.members.first(where: { $0.name == name }) else {
                    out.append("\(path).\(name): not a member of \(shape.name)")
                    continue
                }
                check(member, shape: model[spec.shape], path: "\(path).\(name)", into: &out)
            }
            for name in shape.required.sorted() where object[name] == nil && !Self.allowedAbsent.contains("\(shape.name).\(name)") {
                out.append("\(path).\(name): required member missing")
            }
            if shape.isUnion && object.count != 1 { out.append("\(path): a union must have exactly one member set") }
        case (.structure, _): wrong("structure")
        case (.list, .array(let elements)):
            let element = model[shape.listMember!]
            for (i, item) in elements.enumerated() { check(item, shape: element, path: "\(path)[\(i)]", into: &out) }
        case (.list, _): wrong("list")
        case (.map, .object(let object)):
            let valueShape = model[shape.mapValue!]
            for (key, item) in object.members { check(item, shape: valueShape, path: "\(path).\(key)", into: &out) }
        case (.map, _): wrong("map")
        case (.string, .string(let s)), (.blob, .string(let s)):
            if let values = shape.enumValues, !values.contains(s) { out.append("\(path): '\(s)' is not a \(shape.name) value") }
        case (.string, _), (.blob, _): wrong("string")
        case (.integer, .integer(let i)):
            if Int32(exactly: i) == nil { out.append("\(path): \(i) is not a 32-bit integer") }
        case (.long, .integer): break
        case (.integer, _), (.long, _): wrong("integer")
        case (.boolean, .bool): break
        case (.boolean, _): wrong("boolean")
        case (.timestamp, .integer), (.timestamp, .double), (.float, .integer), (.float, .double), (.double, .integer), (.double, .double):
            break
        case (.timestamp, _), (.float, _), (.double, _): wrong("number")
        }
    }
}
