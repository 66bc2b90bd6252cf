import JSON

/// One setting of an extension version's configuration (spec R310, R315): a group of settings, or a value with its JSON
/// type, default and (for `level`) allowed values.
public indirect enum ExtensionSetting: Sendable, Equatable {
    /// A JSON value a leaf may hold.
    public enum Kind: Sendable, Equatable { case string, positiveInteger, boolean }

    case group([(String, ExtensionSetting)])
    /// `defaultValue` nil: optional, no default (absent from the stored configuration until set).
    case value(Kind, defaultValue: JSONValue?, allowed: [String]?)

    public static func == (a: ExtensionSetting, b: ExtensionSetting) -> Bool {
        switch (a, b) {
        case (.group(let x), .group(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.value(let k1, let d1, let a1), .value(let k2, let d2, let a2)): k1 == k2 && d1 == d2 && a1 == a2
        default: false
        }
    }
}

/// The extensions a partition can install (spec R310): name → version → settings. The default catalogue is
/// `sagemaker-observability` 1.0.0 and 1.1.0 with the settings and defaults of AWS doc D204.
public enum ExtensionCatalogue {
    static func metric(_ defaultLevel: String, levels: [String]) -> ExtensionSetting {
        .group([("level", .value(.string, defaultValue: .string(defaultLevel), allowed: levels)),
                ("collectionIntervalSeconds", .value(.positiveInteger, defaultValue: .integer(30), allowed: nil))])
    }

    static let observabilitySettings: ExtensionSetting = {
        let basic = ["BASIC", "ADVANCED", "DISABLED"], enabled = ["ENABLED", "DISABLED"]
        return .group([
            ("metricsProvider", .group([
                ("nodeMetrics", metric("BASIC", levels: basic)),
                ("acceleratedComputeMetrics", metric("BASIC", levels: basic)),
                ("networkMetrics", metric("ENABLED", levels: enabled)),
                ("jobMetrics", metric("ENABLED", levels: enabled)),
                ("clusterMetrics", metric("ENABLED", levels: enabled)),
                ("ncclMetrics", metric("DISABLED", levels: enabled)),
            ])),
            ("profilesProvider", .group([("hostProfiling", .group([("enabled", .value(.boolean, defaultValue: .bool(false), allowed: nil))]))])),
            ("prometheus", .group([("remoteWriteUrl", .value(.string, defaultValue: nil, allowed: nil))])),
        ])
    }()

    /// The default catalogue.
    public static let standard: [String: [String: ExtensionSetting]] = [
        "sagemaker-observability": ["1.0.0": observabilitySettings, "1.1.0": observabilitySettings],
    ]

    /// The versions of `name`, highest first (numeric per component, R319); empty for a name not in the catalogue.
    public static func versions(of name: String, in catalogue: [String: [String: ExtensionSetting]] = standard) -> [String] {
        (catalogue[name] ?? [:]).keys.sorted { versionPrecedes($1, $0) }
    }

    /// Whether version `a` is lower than `b` (`MAJOR.MINOR.PATCH`, numeric per component).
    public static func versionPrecedes(_ a: String, _ b: String) -> Bool {
        let x = a.split(separator: ".").map { Int($0) ?? 0 }, y = b.split(separator: ".").map { Int($0) ?? 0 }
        return x.lexicographicallyPrecedes(y)
    }

    /// R315/R316: `text` (a JSON object, or nil for none) validated against `settings` and deep-merged into `base`
    /// (the defaults at create, the stored configuration at update; a `null` value resets that setting to its
    /// default). The result holds every setting with a value, in catalogue order, serialized compactly.
    /// - Throws: the R315 message of the first failure in document order.
    public static func merge(_ text: String?, into base: JSONObject?, settings: ExtensionSetting) throws(ExtensionConfigurationError) -> String {
        var given = JSONObject()
        if let text {
            guard let parsed = try? JSONParser.parse(Array(text.utf8)), let object = parsed.objectValue else {
                throw ExtensionConfigurationError("ConfigurationValues must be a JSON object.")
            }
            given = object
        }
        try validate(given, against: settings, path: "")
        let merged = try mergeGroup(given, base: base, setting: settings, path: "")
        return String(decoding: JSONWriter.encode(.object(merged)), as: UTF8.self)
    }

    /// The defaults of `settings` (a stored configuration with nothing given).
    public static func defaults(_ settings: ExtensionSetting) -> JSONObject {
        (try? mergeGroup(JSONObject(), base: nil, setting: settings, path: "")) ?? JSONObject()
    }

    static func mergeGroup(_ given: JSONObject, base: JSONObject?, setting: ExtensionSetting, path: String) throws(ExtensionConfigurationError) -> JSONObject {
        guard case .group(let children) = setting else { return JSONObject() }
        var out = JSONObject()
        for (key, child) in children {
            let dotted = path.isEmpty ? key : "\(path).\(key)"
            let givenValue = given[key], baseValue = base?[key]
            switch child {
            case .group:
                let inner = try mergeGroup(givenValue?.objectValue ?? JSONObject(),
                                           base: givenValue == .null ? nil : baseValue?.objectValue, setting: child, path: dotted)
                if !inner.members.isEmpty { out[key] = .object(inner) }
            case .value(_, let defaultValue, _):
                if let givenValue, givenValue != .null {
                    out[key] = givenValue
                } else if givenValue == nil, let baseValue {
                    out[key] = baseValue
                } else if let defaultValue {
                    out[key] = defaultValue
                }
            }
        }
        return out
    }

    /// R315: every given key is a setting at its level and every value has the setting's type — depth first, in
    /// document order, so the first failure reported is the first in the document.
    static func validate(_ given: JSONObject, against setting: ExtensionSetting, path: String) throws(ExtensionConfigurationError) {
        guard case .group(let children) = setting else { return }
        for (key, value) in given.members {
            let dotted = path.isEmpty ? key : "\(path).\(key)"
            guard let child = children.first(where: { $0.0 == key })?.1 else {
                throw ExtensionConfigurationError("Unknown setting '\(dotted)' in ConfigurationValues.")
            }
            try check(value, against: child, path: dotted)
            if case .group = child, let inner = value.objectValue { try validate(inner, against: child, path: dotted) }
        }
    }

    static func check(_ value: JSONValue, against setting: ExtensionSetting, path: String) throws(ExtensionConfigurationError) {
        if value == .null { return }  // resets to the default (R316)
        let invalid = ExtensionConfigurationError("Invalid value for setting '\(path)'.")
        switch setting {
        case .group:
            guard value.objectValue != nil else { throw invalid }
        case .value(.string, _, let allowed):
            guard let text = value.stringValue, allowed.map({ $0.contains(text) }) ?? true else { throw invalid }
        case .value(.positiveInteger, _, _):
            guard let n = value.intValue, n > 0 else { throw invalid }
        case .value(.boolean, _, _):
            guard case .bool = value else { throw invalid }
        }
    }
}

extension ExtensionCatalogue {
    /// A catalogue as the admin API takes and gives it (spec RA20):
    /// `{"<name>": {"<version>": {"defaults": {…}, "enums": {"<dotted.path>": ["<v>", …]}, "optional": ["<dotted.path>", …]}}}`.
    /// A default's JSON type makes the setting's type (a string; an integer, which must be positive; a boolean); an
    /// object is a group of settings; `enums` lists the values a string setting allows; `optional` names string
    /// settings without a default. Object order is kept: it is the order of a stored configuration (R315).
    /// - Throws: `ExtensionConfigurationError` naming the first entry that is not of this form.
    public static func decode(_ json: JSONValue) throws(ExtensionConfigurationError) -> [String: [String: ExtensionSetting]] {
        guard let names = json.objectValue else { throw ExtensionConfigurationError("The catalogue must be a JSON object of extension names.") }
        var catalogue: [String: [String: ExtensionSetting]] = [:]
        for (name, versionsValue) in names.members {
            guard !name.isEmpty else { throw ExtensionConfigurationError("Extension names must not be empty.") }
            guard let versions = versionsValue.objectValue, !versions.members.isEmpty else {
                throw ExtensionConfigurationError("Extension \(name) must map at least one version to its settings.")
            }
            for (version, entryValue) in versions.members {
                guard ImageCatalogue.isVersion(version) else {  // versions are spelt as AMI releases are (RA21)
                    throw ExtensionConfigurationError("Version \(version) of extension \(name) must be \(ImageCatalogue.versionRule).")
                }
                guard let entry = entryValue.objectValue else {
                    throw ExtensionConfigurationError("Version \(version) of extension \(name) must be an object with defaults, enums and optional.")
                }
                if let unknown = entry.keys.first(where: { !["defaults", "enums", "optional"].contains($0) }) {
                    throw ExtensionConfigurationError("Unknown member \(unknown) in version \(version) of extension \(name).")
                }
                let place = "extension \(name) \(version)"
                var enums: [String: [String]] = [:]
                for (path, values) in entry["enums"]?.objectValue?.members ?? [] {
                    guard let list = values.arrayValue?.compactMap(\.stringValue), list.count == values.arrayValue?.count, !list.isEmpty else {
                        throw ExtensionConfigurationError("enums.\(path) of \(place) must be a non-empty list of strings.")
                    }
                    enums[path] = list
                }
                var used: Set<String> = []
                var root = try setting(entry["defaults"]?.objectValue ?? JSONObject(), path: "", enums: enums, used: &used, place: place)
                for pathValue in entry["optional"]?.arrayValue ?? [] {
                    guard let path = pathValue.stringValue, !path.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
                        throw ExtensionConfigurationError("optional of \(place) must list dotted setting paths.")
                    }
                    guard !used.contains(path) else { throw ExtensionConfigurationError("optional \(path) of \(place) is listed twice.") }
                    root = try inserting(.value(.string, defaultValue: nil, allowed: enums[path]), at: path.split(separator: ".").map(String.init),
                                         into: root, place: place)
                    used.insert(path)
                }
                if let stray = enums.keys.sorted().first(where: { !used.contains($0) }) {
                    throw ExtensionConfigurationError("enums.\(stray) of \(place) names no string setting.")
                }
                catalogue[name, default: [:]][version] = root
            }
        }
        return catalogue
    }

    static func setting(_ object: JSONObject, path: String, enums: [String: [String]], used: inout Set<String>,
                        place: String) throws(ExtensionConfigurationError) -> ExtensionSetting {
        var children: [(String, ExtensionSetting)] = []
        for (key, value) in object.members {
            let dotted = path.isEmpty ? key : "\(path).\(key)"
            guard !key.isEmpty, !key.contains(".") else {  // a setting is named by its dotted path
                throw ExtensionConfigurationError("Setting names in \(place) must be non-empty and without dots: '\(dotted)'.")
            }
            switch value {
            case .object(let inner):
                children.append((key, try setting(inner, path: dotted, enums: enums, used: &used, place: place)))
            case .string(let text):
                if let allowed = enums[dotted], !allowed.contains(text) {
                    throw ExtensionConfigurationError("The default of \(dotted) in \(place) is not among its enums.")
                }
                if enums[dotted] != nil { used.insert(dotted) }
                children.append((key, .value(.string, defaultValue: value, allowed: enums[dotted])))
            case .integer(let n) where n > 0:
                children.append((key, .value(.positiveInteger, defaultValue: value, allowed: nil)))
            case .bool:
                children.append((key, .value(.boolean, defaultValue: value, allowed: nil)))
            default:
                throw ExtensionConfigurationError("The default of \(dotted) in \(place) must be a string, a positive integer, a boolean or an object.")
            }
        }
        return .group(children)
    }

    static func inserting(_ leaf: ExtensionSetting, at path: [String], into setting: ExtensionSetting,
                          place: String) throws(ExtensionConfigurationError) -> ExtensionSetting {
        guard case .group(var children) = setting, let key = path.first else {
            throw ExtensionConfigurationError("optional \(path.joined(separator: ".")) of \(place) is inside a setting that is not a group.")
        }
        let index = children.firstIndex { $0.0 == key }
        if path.count == 1 {
            guard index == nil else { throw ExtensionConfigurationError("optional \(key) of \(place) also has a default.") }
            children.append((key, leaf))
        } else if let index {
            children[index].1 = try inserting(leaf, at: Array(path.dropFirst()), into: children[index].1, place: place)
        } else {
            children.append((key, try inserting(leaf, at: Array(path.dropFirst()), into: .group([]), place: place)))
        }
        return .group(children)
    }

    /// `catalogue` in RA20's form (what `decode` reads back to the same catalogue), names and versions sorted.
    public static func encode(_ catalogue: [String: [String: ExtensionSetting]]) -> JSONValue {
        var names = JSONObject()
        for name in catalogue.keys.sorted() {
            var versions = JSONObject()
            for version in (catalogue[name] ?? [:]).keys.sorted(by: versionPrecedes) {
                var enums = JSONObject()
                var optional: [JSONValue] = []
                let defaults = encodeGroup(catalogue[name]![version]!, path: "", enums: &enums, optional: &optional)
                versions[version] = .object(["defaults": .object(defaults), "enums": .object(enums), "optional": .array(optional)])
            }
            names[name] = .object(versions)
        }
        return .object(names)
    }

    static func encodeGroup(_ setting: ExtensionSetting, path: String, enums: inout JSONObject, optional: inout [JSONValue]) -> JSONObject {
        guard case .group(let children) = setting else { return JSONObject() }
        var out = JSONObject()
        for (key, child) in children {
            let dotted = path.isEmpty ? key : "\(path).\(key)"
            switch child {
            case .group:
                out[key] = .object(encodeGroup(child, path: dotted, enums: &enums, optional: &optional))
            case .value(_, let defaultValue, let allowed):
                if let allowed { enums[dotted] = .array(allowed.map(JSONValue.string)) }
                if let defaultValue { out[key] = defaultValue } else { optional.append(.string(dotted)) }
            }
        }
        return out
    }
}

/// A refused `ConfigurationValues` (spec R315): answered as a ValidationException with `message`.
public struct ExtensionConfigurationError: Error, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// A cluster extension (spec R311–R319) as stored: the status of the last accepted request and, while its step runs,
/// when the step ends (T_config, virtual). What callers see is `status(at:…)`.
public struct ClusterExtensionRecord: Sendable, Equatable {
    /// `ExtensionStatus`.
    public enum Status: String, Sendable {
        case creating = "Creating", active = "Active", createFailed = "CreateFailed", updating = "Updating", deleting = "Deleting"
        case deleteFailed = "DeleteFailed", degraded = "Degraded", updateFailed = "UpdateFailed"
    }

    public var extensionARN: String
    public var clusterARN: String
    public var name: String
    public var version: String
    public var status: Status
    /// The stored configuration, compact JSON with every setting (R315).
    public var configuration: String
    public var creationTime: VirtualTime
    /// The last accepted update; `creationTime` until then (R314).
    public var lastModifiedTime: VirtualTime
    /// When the running step (create, update, removal) ends; nil when none runs.
    public var stepEndsAt: VirtualTime?

    public init(extensionARN: String, clusterARN: String, name: String, version: String, status: Status, configuration: String,
                creationTime: VirtualTime, lastModifiedTime: VirtualTime, stepEndsAt: VirtualTime?) {
        self.extensionARN = extensionARN
        self.clusterARN = clusterARN
        self.name = name
        self.version = version
        self.status = status
        self.configuration = configuration
        self.creationTime = creationTime
        self.lastModifiedTime = lastModifiedTime
        self.stepEndsAt = stepEndsAt
    }

    /// This record with its ended step's outcome stored (R314): the status `status(at:…)` gives now, and no step. Nil
    /// when a removal has ended. The service stores outcomes before the issues can change (before a fault is added or
    /// removed), so an outcome is decided by the issues of the instant its step ended.
    public func settlingStep(at now: VirtualTime, runningNodes: Int, nodesWithIssues: Int) -> ClusterExtensionRecord? {
        guard let ends = stepEndsAt, now >= ends else { return self }
        guard let outcome = status(at: now, runningNodes: runningNodes, nodesWithIssues: nodesWithIssues) else { return nil }
        var settled = self
        settled.status = outcome
        settled.stepEndsAt = nil
        return settled
    }

    /// Whether the step of the last request is still running at `now`.
    public func stepRunning(at now: VirtualTime) -> Bool { stepEndsAt.map { now < $0 } ?? false }

    /// The status at `now` (R314) given the cluster's `Running` nodes and those with an issue (RA22); nil once a
    /// removal has ended (the extension is gone). A finished step with an issue on every node failed; on some,
    /// `Degraded`; on none, `Active`. `Active` and `Degraded` follow the issues as they come and go.
    public func status(at now: VirtualTime, runningNodes: Int, nodesWithIssues: Int) -> Status? {
        let failedEverywhere = runningNodes > 0 && nodesWithIssues >= runningNodes
        if stepRunning(at: now) { return status }
        switch status {
        case .creating, .updating:
            // An ended step not stored yet (`settlingStep`): decided by the issues, which have not changed since.
            if failedEverywhere { return status == .creating ? .createFailed : .updateFailed }
            return nodesWithIssues > 0 ? .degraded : .active
        case .active, .degraded:
            return nodesWithIssues > 0 ? .degraded : .active
        case .deleting:
            return failedEverywhere ? .deleteFailed : nil
        case .createFailed, .updateFailed, .deleteFailed:
            return status
        }
    }

    /// R318: `Health.Issues` from each affected node's (code, message): grouped, most nodes first (ties by code, then
    /// message), at most 20 — with more groups, 19 and one `Other` counting the rest.
    public static func issues(_ perNode: [(code: String, message: String)]) -> [(code: String, message: String, nodeCount: Int)] {
        var counts: [String: (code: String, message: String, nodeCount: Int)] = [:]
        for issue in perNode { counts["\(issue.code)\u{1}\(issue.message)", default: (issue.code, issue.message, 0)].nodeCount += 1 }
        let sorted = counts.values.sorted {
            ($0.nodeCount, $1.code, $1.message) > ($1.nodeCount, $0.code, $0.message)
        }
        guard sorted.count > 20 else { return sorted }
        let rest = sorted.dropFirst(19).reduce(0) { $0 + $1.nodeCount }
        return Array(sorted.prefix(19)) + [("Other", "Issues of other kinds", rest)]
    }
}
