import JSON

/// An IAM identity-based policy document as IAM writes it (`Version`, `Statement` — one object or a list — each with
/// `Effect`, `Action`/`NotAction`, `Resource`/`NotResource`, optional `Condition` and `Sid`), parsed once and evaluated
/// per request by `IAMPolicyEvaluator` (issue #18, `--auth enforce`).
///
/// Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
public struct IAMPolicyDocument: Sendable, Equatable {
    public var statements: [IAMStatement]

    public init(statements: [IAMStatement]) { self.statements = statements }

    /// Parses a policy document.
    /// - Parameter path: where the document is in its file, for error messages (`principals["…"].policies[0]`).
    /// - Throws: `IdentitiesFileError` naming the element and what is wrong with it (an identity-based policy with a
    ///   `Principal`, an unknown `Effect`, an unsupported condition operator, …): IAM refuses such a policy too.
    public init(json: JSONValue, path: String) throws(IdentitiesFileError) {
        guard case .object(let document) = json else { throw IdentitiesFileError("\(path) must be a policy document (a JSON object)") }
        for key in document.keys where !["Version", "Id", "Statement"].contains(key) {
            throw IdentitiesFileError("\(path) has an unknown element \"\(key)\" (a policy has Version, Id and Statement)")
        }
        if let version = document["Version"] {
            guard case .string(let text) = version, text == "2012-10-17" || text == "2008-10-17" else {
                throw IdentitiesFileError("\(path).Version must be \"2012-10-17\" or \"2008-10-17\"")
            }
        }
        let list: [JSONValue]
        switch document["Statement"] {
        case .array(let items)?: list = items
        case .object?: list = [document["Statement"]!]
        default: throw IdentitiesFileError("\(path).Statement must be a statement object or a list of them")
        }
        var statements: [IAMStatement] = []
        for (index, item) in list.enumerated() {
            statements.append(try IAMStatement(json: item, path: "\(path).Statement[\(index)]"))
        }
        self.statements = statements
    }
}

/// One statement of a policy.
public struct IAMStatement: Sendable, Equatable {
    public enum Effect: String, Sendable { case allow = "Allow", deny = "Deny" }

    /// Patterns and whether the element is the negated one (`NotAction`, `NotResource`).
    public struct Patterns: Sendable, Equatable {
        public var values: [String]
        public var negated: Bool
    }

    public var sid: String?
    public var effect: Effect
    /// `Action` or `NotAction`: `service:Operation` patterns with `*` and `?`, matched ignoring case.
    public var actions: Patterns
    /// `Resource` or `NotResource`: ARN patterns with `*` and `?`, matched with case.
    public var resources: Patterns
    /// Every condition must hold (AND across operators and keys).
    public var conditions: [IAMCondition]

    init(json: JSONValue, path: String) throws(IdentitiesFileError) {
        guard case .object(let statement) = json else { throw IdentitiesFileError("\(path) must be a JSON object") }
        let known: Set<String> = ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"]
        for key in statement.keys where !known.contains(key) {
            if key == "Principal" || key == "NotPrincipal" {
                throw IdentitiesFileError("\(path) has \(key): an identity-based policy names no principal (its principal is the one it is attached to)")
            }
            throw IdentitiesFileError("\(path) has an unknown element \"\(key)\"")
        }
        if let sid = statement["Sid"] {
            guard case .string(let text) = sid else { throw IdentitiesFileError("\(path).Sid must be a string") }
            self.sid = text
        }
        guard case .string(let effectText)? = statement["Effect"], let effect = Effect(rawValue: effectText) else {
            throw IdentitiesFileError("\(path).Effect must be \"Allow\" or \"Deny\"")
        }
        self.effect = effect
        self.actions = try Self.patterns(statement, "Action", "NotAction", path: path)
        for action in actions.values where action != "*" && !action.contains(":") {
            throw IdentitiesFileError("\(path).\(actions.negated ? "NotAction" : "Action") \"\(action)\" must be \"*\" or \"<service>:<action>\"")
        }
        self.resources = try Self.patterns(statement, "Resource", "NotResource", path: path)
        var conditions: [IAMCondition] = []
        if let block = statement["Condition"] {
            guard case .object(let operators) = block else { throw IdentitiesFileError("\(path).Condition must be a JSON object") }
            for (name, keys) in operators.members {
                guard case .object(let keyValues) = keys else {
                    throw IdentitiesFileError("\(path).Condition.\(name) must map condition keys to values")
                }
                for (key, values) in keyValues.members {
                    conditions.append(try IAMCondition(operatorName: name, key: key, values: values, path: "\(path).Condition.\(name)"))
                }
            }
        }
        self.conditions = conditions
    }

    /// Exactly one of `positive` and `negative`, a string or a non-empty list of strings.
    private static func patterns(_ statement: JSONObject, _ positive: String, _ negative: String, path: String) throws(IdentitiesFileError) -> Patterns {
        switch (statement[positive], statement[negative]) {
        case (let value?, nil): return Patterns(values: try strings(value, path: "\(path).\(positive)"), negated: false)
        case (nil, let value?): return Patterns(values: try strings(value, path: "\(path).\(negative)"), negated: true)
        case (nil, nil): throw IdentitiesFileError("\(path) needs \(positive) or \(negative)")
        default: throw IdentitiesFileError("\(path) has both \(positive) and \(negative)")
        }
    }

    static func strings(_ value: JSONValue, path: String) throws(IdentitiesFileError) -> [String] {
        switch value {
        case .string(let text): return [text]
        case .array(let items) where !items.isEmpty:
            var out: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw IdentitiesFileError("\(path) must hold strings only") }
                out.append(text)
            }
            return out
        default: throw IdentitiesFileError("\(path) must be a string or a non-empty list of strings")
        }
    }
}

/// One condition: an operator (with its `ForAllValues:`/`ForAnyValue:` qualifier and `IfExists` suffix), a context key
/// and the values it is compared with (any one may match).
///
/// Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
public struct IAMCondition: Sendable, Equatable {
    /// The string operators (and their ARN aliases), `Bool` and `Null`.
    public enum Operator: String, Sendable, CaseIterable {
        case stringEquals = "StringEquals", stringNotEquals = "StringNotEquals"
        case stringEqualsIgnoreCase = "StringEqualsIgnoreCase", stringNotEqualsIgnoreCase = "StringNotEqualsIgnoreCase"
        case stringLike = "StringLike", stringNotLike = "StringNotLike"
        case arnEquals = "ArnEquals", arnNotEquals = "ArnNotEquals", arnLike = "ArnLike", arnNotLike = "ArnNotLike"
        case bool = "Bool", null = "Null"

        /// Negated operators hold when no value matches, and when the key is absent from the request.
        var negated: Bool {
            switch self {
            case .stringNotEquals, .stringNotEqualsIgnoreCase, .stringNotLike, .arnNotEquals, .arnNotLike: true
            default: false
            }
        }
    }

    public enum SetQualifier: String, Sendable { case forAllValues = "ForAllValues", forAnyValue = "ForAnyValue" }

    public var `operator`: Operator
    public var qualifier: SetQualifier?
    public var ifExists: Bool
    /// The context key, lower-cased (key names are not case-sensitive).
    public var key: String
    public var values: [String]

    init(operatorName: String, key: String, values: JSONValue, path: String) throws(IdentitiesFileError) {
        var name = Substring(operatorName)
        qualifier = nil
        for qualifier in [SetQualifier.forAllValues, .forAnyValue] where name.hasPrefix(qualifier.rawValue + ":") {
            self.qualifier = qualifier
            name = name.dropFirst(qualifier.rawValue.count + 1)
        }
        ifExists = name.hasSuffix("IfExists") && name != "IfExists"
        if ifExists { name = name.dropLast("IfExists".count) }
        guard let op = Operator(rawValue: String(name)), !(op == .null && (ifExists || qualifier != nil)) else {
            throw IdentitiesFileError("\(path): unsupported condition operator \"\(operatorName)\"; supported: "
                + Operator.allCases.map(\.rawValue).joined(separator: ", ")
                + " (each but Null also with IfExists, and with a ForAllValues: or ForAnyValue: qualifier)")
        }
        self.operator = op
        self.key = key.lowercased()
        var texts: [String] = []
        let items: [JSONValue]
        if case .array(let list) = values { items = list } else { items = [values] }
        for item in items {
            switch item {
            case .string(let text): texts.append(text)
            case .bool(let flag): texts.append(flag ? "true" : "false")
            case .integer(let number): texts.append(String(number))
            case .double(let number): texts.append(String(number))
            default: throw IdentitiesFileError("\(path).\(key) must be a string, a boolean, a number or a list of them")
            }
        }
        guard !texts.isEmpty else { throw IdentitiesFileError("\(path).\(key) must not be an empty list") }
        self.values = texts
    }

    /// Whether the condition holds for the request's values of its key (nil: the key is absent).
    func holds(for present: [String]?) -> Bool {
        if self.operator == .null {
            let wantsAbsent = values.contains { $0.lowercased() == "true" }
            return (present == nil || present!.isEmpty) == wantsAbsent
        }
        guard let present, !present.isEmpty else {
            // IAM: an absent key matches nothing, so a positive operator is false and a negated one true; IfExists and
            // ForAllValues hold vacuously; ForAnyValue does not.
            if ifExists || qualifier == .forAllValues { return true }
            if qualifier == .forAnyValue { return false }
            return self.operator.negated
        }
        switch qualifier {
        case .forAllValues?: return present.allSatisfy(holds(value:))
        case .forAnyValue?: return present.contains(where: holds(value:))
        case nil:
            // A single-valued operator on a multivalued key (aws:TagKeys): positive when any value matches, negated when
            // none does.
            return self.operator.negated ? present.allSatisfy(holds(value:)) : present.contains(where: holds(value:))
        }
    }

    /// The operator on one request value: a positive operator when any condition value matches it, a negated one when
    /// none does.
    private func holds(value: String) -> Bool {
        let matched: Bool
        switch self.operator {
        case .stringEquals, .stringNotEquals, .arnEquals, .arnNotEquals:
            if self.operator == .arnEquals || self.operator == .arnNotEquals {
                matched = values.contains { IAMWildcard.matches(pattern: $0, value, ignoringCase: false) }
            } else {
                matched = values.contains(value)
            }
        case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase:
            let lowered = value.lowercased()
            matched = values.contains { $0.lowercased() == lowered }
        case .stringLike, .stringNotLike, .arnLike, .arnNotLike:
            matched = values.contains { IAMWildcard.matches(pattern: $0, value, ignoringCase: false) }
        case .bool:
            matched = values.contains { $0.lowercased() == value.lowercased() }
        case .null:
            matched = false
        }
        return self.operator.negated ? !matched : matched
    }
}

/// IAM's wildcards: `*` any run of characters (also empty), `?` exactly one.
public enum IAMWildcard {
    /// Whether `value` matches `pattern`, byte by byte (greedy with backtracking to the last `*`: linear in practice, never
    /// exponential).
    public static func matches(pattern: String, _ value: String, ignoringCase: Bool) -> Bool {
        let p = Array(pattern.utf8), v = Array(value.utf8)
        var pi = 0, vi = 0, star = -1, mark = 0
        @inline(__always) func same(_ a: UInt8, _ b: UInt8) -> Bool {
            guard ignoringCase else { return a == b }
            return lower(a) == lower(b)
        }
        while vi < v.count {
            if pi < p.count && (p[pi] == UInt8(ascii: "?") || (p[pi] != UInt8(ascii: "*") && same(p[pi], v[vi]))) {
                pi += 1
                vi += 1
            } else if pi < p.count && p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = vi
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                vi = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    @inline(__always) static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte
    }
}

/// What a request asks of IAM: the action (`sagemaker:DescribeCluster`), the resource it acts on (an ARN, or `*`), and
/// the condition keys it carries (lower-cased names; multivalued keys such as `aws:TagKeys` have several values).
public struct IAMRequest: Sendable, Equatable {
    public var action: String
    public var resource: String
    public var context: [String: [String]]

    public init(action: String, resource: String, context: [String: [String]] = [:]) {
        self.action = action
        self.resource = resource
        self.context = context
    }
}

/// IAM's evaluation of identity-based policies: an explicit `Deny` wins, then an `Allow`, else the implicit deny.
///
/// Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
public enum IAMPolicyEvaluator {
    public enum Decision: Sendable, Equatable {
        case allow
        /// A `Deny` statement matched.
        case explicitDeny
        /// No statement allows the request.
        case implicitDeny
    }

    public static func evaluate(_ policies: [IAMPolicyDocument], _ request: IAMRequest) -> Decision {
        var allowed = false
        for policy in policies {
            for statement in policy.statements where applies(statement, to: request) {
                if statement.effect == .deny { return .explicitDeny }
                allowed = true
            }
        }
        return allowed ? .allow : .implicitDeny
    }

    /// Whether a statement's action, resource and conditions all match the request.
    static func applies(_ statement: IAMStatement, to request: IAMRequest) -> Bool {
        let actionMatched = statement.actions.values.contains { IAMWildcard.matches(pattern: $0, request.action, ignoringCase: true) }
        guard actionMatched != statement.actions.negated else { return false }
        let resourceMatched = statement.resources.values.contains { IAMWildcard.matches(pattern: $0, request.resource, ignoringCase: false) }
        guard resourceMatched != statement.resources.negated else { return false }
        return statement.conditions.allSatisfy { $0.holds(for: request.context[$0.key]) }
    }
}
