import JSON
import SageMakerShapes

// Task governance (spec §18, R250–R287): cluster scheduler configs and compute quotas ("policies"), each attached to one
// EKS cluster, with integer versions and a status machine on the virtual clock. Pure: the service loads, calls, stores.

/// The two kinds of policy (spec R250, R251).
public enum GovernanceKind: String, Sendable, Equatable, CaseIterable {
    case schedulerConfig = "cluster-scheduler-config"
    case computeQuota = "compute-quota"

    /// The kind as messages name it: `cluster scheduler config` | `compute quota`.
    public var noun: String { self == .schedulerConfig ? "cluster scheduler config" : "compute quota" }
    /// The same, capitalized for the start of a message.
    public var capitalizedNoun: String { self == .schedulerConfig ? "Cluster scheduler config" : "Compute quota" }

    /// `arn:<partition>:sagemaker:<region>:<account>:<kind>/<id>` (R251).
    public func arn(partition: String, region: String, account: String, id: String) -> String {
        "arn:\(partition):sagemaker:\(region):\(account):\(rawValue)/\(id)"
    }

    /// The kind and id of a policy ARN, nil when `text` is not one.
    public static func parse(_ text: String) -> (kind: GovernanceKind, partition: String, region: String, account: String, id: String)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "sagemaker" else { return nil }
        for kind in allCases where parts[5].hasPrefix(kind.rawValue + "/") {
            let id = parts[5].dropFirst(kind.rawValue.count + 1)
            guard !id.isEmpty else { return nil }
            return (kind, String(parts[1]), String(parts[3]), String(parts[4]), String(id))
        }
        return nil
    }
}

/// The operation a policy's pending reconcile finishes (spec R266).
public enum GovernanceOperation: String, Sendable, Equatable {
    case create, update, delete
}

/// One version of a policy's content (spec R271): the members Describe shows for it, keyed by their model names
/// (`SchedulerConfig`, `Description` | `ComputeQuotaConfig`, `ComputeQuotaTarget`, `ActivationState`, `Description`), and
/// when it was accepted.
public struct GovernanceVersion: Sendable, Equatable {
    public var content: JSONObject
    public var lastModifiedTime: VirtualTime

    public init(content: JSONObject, lastModifiedTime: VirtualTime) {
        self.content = content
        self.lastModifiedTime = lastModifiedTime
    }
}

/// An injected failure of a reconcile (spec R268, R286): the failure status it ends in and its `FailureReason`.
public struct GovernanceFailure: Sendable, Equatable {
    public var rollbackFails: Bool
    public var reason: String

    public init(rollbackFails: Bool, reason: String) {
        self.rollbackFails = rollbackFails
        self.reason = reason
    }
}

/// A scheduler config or compute quota (spec R250–R285).
public struct GovernancePolicyRecord: Sendable, Equatable {
    public var kind: GovernanceKind
    /// 12 characters `[a-z0-9]` (R251).
    public var id: String
    public var arn: String
    public var name: String
    public var account: String
    public var region: String
    /// The canonical cluster ARN stored at creation (R277), and the cluster's name then (for messages).
    public var clusterARN: String
    public var clusterName: String
    public var status: SchedulerResourceStatus
    public var creationTime: VirtualTime
    /// Acceptance of the latest Create, Update or Delete (R278).
    public var lastModifiedTime: VirtualTime
    /// Set in the failure statuses only (R268).
    public var failureReason: String?
    /// Every version, the first at index 0 (R271).
    public var versions: [GovernanceVersion]
    public var tags: [Tag]
    /// The operation the pending reconcile finishes, nil when none is pending.
    public var pending: GovernanceOperation?
    /// Stale reconcile timers carry another token.
    public var token: Int

    public init(kind: GovernanceKind, id: String, arn: String, name: String, account: String, region: String, clusterARN: String,
                clusterName: String, content: JSONObject, at now: VirtualTime, tags: [Tag]) {
        self.kind = kind
        self.id = id
        self.arn = arn
        self.name = name
        self.account = account
        self.region = region
        self.clusterARN = clusterARN
        self.clusterName = clusterName
        self.status = .creating  // P1
        self.creationTime = now
        self.lastModifiedTime = now
        self.versions = [GovernanceVersion(content: content, lastModifiedTime: now)]
        self.tags = tags
        self.pending = .create
        self.token = 1
    }

    /// The current version number (R271).
    public var version: Int { versions.count }
    /// The latest content.
    public var content: JSONObject { versions[versions.count - 1].content }
    /// Any status but `Deleted` (R256–R259).
    public var isLive: Bool { status != .deleted }

    /// R267: whether an Update is accepted in the current status.
    public var acceptsUpdate: Bool { [.created, .updated, .updateFailed].contains(status) }

    /// P4: an accepted Update — `Updating`, a new version with `content`.
    public mutating func update(to content: JSONObject, at now: VirtualTime) {
        versions.append(GovernanceVersion(content: content, lastModifiedTime: now))
        status = .updating
        failureReason = nil
        lastModifiedTime = now
        pending = .update
        token += 1
    }

    /// P7: an accepted Delete (or a cluster's cascade) — `Deleting`, a pending create or update reconcile cancelled.
    /// - Returns: false when already `Deleting` or `Deleted` (a no-op, R267).
    public mutating func delete(at now: VirtualTime) -> Bool {
        guard status != .deleting && status != .deleted else { return false }
        status = .deleting
        failureReason = nil
        lastModifiedTime = now
        pending = .delete
        token += 1
        return true
    }

    /// P2/P3, P5/P6, P8/P9: the pending reconcile ends, with `failure` when one was injected.
    /// - Returns: whether the record is now `Deleted` (its retention starts, P10).
    public mutating func reconcile(token: Int, failure: GovernanceFailure?) -> Bool {
        guard token == self.token, let operation = pending else { return false }
        pending = nil
        if let failure {
            failureReason = failure.reason
            switch operation {
            case .create: status = failure.rollbackFails ? .createRollbackFailed : .createFailed
            case .update: status = failure.rollbackFails ? .updateRollbackFailed : .updateFailed
            case .delete: status = failure.rollbackFails ? .deleteRollbackFailed : .deleteFailed
            }
            return false
        }
        switch operation {
        case .create: status = .created
        case .update: status = .updated
        case .delete: status = .deleted
        }
        return status == .deleted
    }

    /// R269: `StatusDetails` of a scheduler config while it is transitional or failed: one entry per component of its
    /// stored `SchedulerConfig` (the latest version's), each with the record's status; nil otherwise.
    public var statusDetails: [String: String]? { statusDetails(of: content) }

    /// R269 for the content of one version (R275: Describe of an older version shows that version's components).
    public func statusDetails(of content: JSONObject) -> [String: String]? {
        guard kind == .schedulerConfig, ![.created, .updated, .deleted].contains(status) else { return nil }
        let config = content["SchedulerConfig"]?.objectValue ?? JSONObject()
        var details = ["FairShare": status.rawValue]
        if config["PriorityClasses"] != nil { details["PriorityClasses"] = status.rawValue }
        if config["IdleResourceSharing"] != nil { details["IdleResourceSharing"] = status.rawValue }
        return details
    }
}

/// The content rules and stored defaults of spec R258, R260–R264.
public enum GovernanceRules {
    /// R260: a scheduler config's first content problem, nil when there is none.
    public static func violation(_ config: SchedulerConfig) -> String? {
        var seen: Set<String> = []
        for priorityClass in config.priorityClasses ?? [] where !seen.insert(priorityClass.name).inserted {
            return "Duplicate priority class name \(priorityClass.name)."
        }
        return nil
    }

    /// R258 (first, C-R258), R261, R262: a compute quota's first content problem against the instance types the
    /// cluster's groups use now, nil when there is none.
    public static func violation(_ config: ComputeQuotaConfig?, target: ComputeQuotaTarget?, types: Set<String>, clusterName: String) -> String? {
        if let team = target?.teamName, ("hyperpod-ns-" + team).count > 63 {
            return "TeamName \(team) is too long: namespace hyperpod-ns-\(team) must not exceed 63 characters."
        }
        func check(_ list: [String], member: String) -> String? {
            var seen: Set<String> = []
            for type in list {
                if !types.contains(type) { return "Instance type \(type) is not used by any instance group of cluster \(clusterName)." }
                if !seen.insert(type).inserted { return "Duplicate instance type \(type) in \(member)." }
            }
            return nil
        }
        return check((config?.computeQuotaResources ?? []).map(\.instanceType.rawValue), member: "ComputeQuotaResources")
            ?? check((config?.resourceSharingConfig?.absoluteBorrowLimits ?? []).map(\.instanceType.rawValue), member: "AbsoluteBorrowLimits")
    }

    /// R264: a `SchedulerConfig` with `FairShare` defaulted to `Enabled`.
    public static func withDefaults(_ config: SchedulerConfig) -> SchedulerConfig {
        var c = config
        c.fairShare = c.fairShare ?? .enabled
        return c
    }

    /// R264: a `ComputeQuotaConfig` with `PreemptTeamTasks` `LowerPriority` and `ResourceSharingConfig`
    /// `{"Strategy":"LendAndBorrow","BorrowLimit":50}` (BorrowLimit 50 only under `LendAndBorrow`).
    public static func withDefaults(_ config: ComputeQuotaConfig) -> ComputeQuotaConfig {
        var c = config
        c.preemptTeamTasks = c.preemptTeamTasks ?? .lowerPriority
        var sharing = c.resourceSharingConfig ?? ResourceSharingConfig(strategy: .lendAndBorrow)
        if sharing.strategy == .lendAndBorrow && sharing.borrowLimit == nil { sharing.borrowLimit = 50 }
        c.resourceSharingConfig = sharing
        return c
    }

    /// R264: `FairShareWeight` defaulted to 0.
    public static func withDefaults(_ target: ComputeQuotaTarget) -> ComputeQuotaTarget {
        var t = target
        t.fairShareWeight = t.fairShareWeight ?? 0
        return t
    }

    /// R261: the instance types a cluster's groups use (instance and restricted groups' `InstanceType`, flexible
    /// groups' types; groups being deleted excluded).
    public static func instanceTypes(of cluster: ClusterRecord) -> Set<String> {
        Set(cluster.groups.filter { $0.status != .deleting }.flatMap(\.instanceTypes))
    }
}
