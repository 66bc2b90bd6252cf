import JSON
import SageMakerShapes

/// A cluster operation (spec §19.1, R303–R309): the record of one accepted request that changed the `TargetCount` or
/// `MinCount` of instance groups (`Scaling`) or started deep health checks (`DeepHealthCheck`), on a Continuous cluster.
///
/// Pure value: the service creates it from the cluster before and after the request (`scaling(from:to:…)`,
/// `deepHealthCheck(from:to:…)`) and moves its statuses on every later change of the cluster (`reconcile(with:)`).
/// Times are virtual.
public struct ClusterOperationRecord: Sendable, Equatable {
    /// `ClusterOperationType`.
    public enum Kind: String, Sendable {
        case scaling = "Scaling"
        case deepHealthCheck = "DeepHealthCheck"
    }

    /// `ClusterOperationStatus`.
    public enum Status: String, Sendable {
        case inProgress = "InProgress"
        case superseded = "Superseded"
        case done = "Done"
    }

    /// `ClusterOperationScalingConfiguration`: `CurrentCount` only in `Original`; `MinCount` only when the group has
    /// one (R304).
    public struct Counts: Sendable, Equatable {
        public var currentCount: Int?
        public var targetCount: Int
        public var minCount: Int?

        public init(currentCount: Int?, targetCount: Int, minCount: Int?) {
            self.currentCount = currentCount
            self.targetCount = targetCount
            self.minCount = minCount
        }
    }

    /// `ClusterOperationScalingDetails`: one per group whose TargetCount or MinCount the request changed (R304).
    public struct ScalingDetail: Sendable, Equatable {
        public var instanceGroupName: String
        public var status: Status
        public var original: Counts
        public var desired: Counts

        public init(instanceGroupName: String, status: Status, original: Counts, desired: Counts) {
            self.instanceGroupName = instanceGroupName
            self.status = status
            self.original = original
            self.desired = desired
        }
    }

    /// Lowercase UUID v4.
    public var operationID: String
    public var clusterARN: String
    public var kind: Kind
    /// Acceptance time of the request (virtual).
    public var creationTime: VirtualTime
    public var scalingDetails: [ScalingDetail]
    /// `DeepHealthCheck`: the request's `DeepHealthCheckConfigurations`, echoed as sent (R304).
    public var deepHealthCheckConfigurations: [InstanceGroupHealthCheckConfiguration]
    /// `DeepHealthCheck`: the logical ids of the nodes the request put in `DeepHealthCheckInProgress`.
    public var checkedNodes: [String]
    /// `DeepHealthCheck`: its own status (`Scaling` operations derive theirs from their details).
    public var deepHealthCheckStatus: Status

    public init(operationID: String, clusterARN: String, kind: Kind, creationTime: VirtualTime, scalingDetails: [ScalingDetail] = [],
                deepHealthCheckConfigurations: [InstanceGroupHealthCheckConfiguration] = [], checkedNodes: [String] = [],
                deepHealthCheckStatus: Status = .inProgress) {
        self.operationID = operationID
        self.clusterARN = clusterARN
        self.kind = kind
        self.creationTime = creationTime
        self.scalingDetails = scalingDetails
        self.deepHealthCheckConfigurations = deepHealthCheckConfigurations
        self.checkedNodes = checkedNodes
        self.deepHealthCheckStatus = deepHealthCheckStatus
    }

    /// R305: `InProgress` while any detail is; then `Superseded` if every detail is, else `Done`.
    public var status: Status {
        guard kind == .scaling else { return deepHealthCheckStatus }
        if scalingDetails.contains(where: { $0.status == .inProgress }) { return .inProgress }
        return scalingDetails.allSatisfy { $0.status == .superseded } ? .superseded : .done
    }

    /// How long a finished operation is kept (R309): 14 days of virtual time after its creation.
    public static let retentionSeconds: Double = 14 * 24 * 3600

    /// Whether R309 has purged it at `now`: not `InProgress` and created more than 14 days before.
    public func isPurged(at now: VirtualTime) -> Bool {
        status != .inProgress && creationTime.adding(seconds: Self.retentionSeconds) < now
    }

    // MARK: Creation (R303, R304)

    /// The `Scaling` operation of a request that took the cluster from `previous` (nil: CreateCluster) to `next`, or
    /// nil when it records none: not a Continuous cluster, or no group's TargetCount or MinCount changed (R303).
    /// Details follow the order of `next`'s groups (the request's order); a group the request creates starts from 0.
    public static func scaling(
        id: String, from previous: ClusterLifecycle?, to next: ClusterLifecycle, at time: VirtualTime
    ) -> ClusterOperationRecord? {
        guard next.cluster.isContinuous else { return nil }
        var details: [ScalingDetail] = []
        for group in next.cluster.groups where group.status != .deleting && group.restrictedSpec == nil {
            let before = previous?.cluster.groups.first { $0.name == group.name && $0.status != .deleting }
            let minBefore = before?.spec.minInstanceCount, minAfter = group.spec.minInstanceCount
            let targetBefore = before?.targetCount ?? 0
            let created = before == nil
            guard targetBefore != group.targetCount || minBefore != minAfter,
                  !created || group.targetCount > 0 || (minAfter ?? 0) > 0 else { continue }
            let hasMin = minBefore != nil || minAfter != nil
            details.append(ScalingDetail(
                instanceGroupName: group.name, status: .inProgress,
                original: Counts(currentCount: before.map { previous!.currentCount(of: $0.name) } ?? 0, targetCount: targetBefore,
                                 minCount: hasMin ? (minBefore ?? 0) : nil),
                desired: Counts(currentCount: nil, targetCount: group.targetCount, minCount: hasMin ? (minAfter ?? 0) : nil)))
        }
        guard !details.isEmpty else { return nil }
        return ClusterOperationRecord(operationID: id, clusterARN: next.cluster.arn, kind: .scaling, creationTime: time,
                                      scalingDetails: details)
    }

    /// The `DeepHealthCheck` operation of a StartClusterHealthCheck that took the cluster from `previous` to `next`:
    /// the nodes it put in `DeepHealthCheckInProgress`; nil on a legacy cluster or when it checked none (R303).
    public static func deepHealthCheck(
        id: String, configurations: [InstanceGroupHealthCheckConfiguration], from previous: ClusterLifecycle,
        to next: ClusterLifecycle, at time: VirtualTime
    ) -> ClusterOperationRecord? {
        guard next.cluster.isContinuous else { return nil }
        let wasChecking = Set(previous.nodes.filter { $0.status == .deepHealthCheckInProgress }.map(\.logicalID))
        let checked = next.nodes.filter { $0.status == .deepHealthCheckInProgress && !wasChecking.contains($0.logicalID) }.map(\.logicalID)
        guard !checked.isEmpty else { return nil }
        return ClusterOperationRecord(operationID: id, clusterARN: next.cluster.arn, kind: .deepHealthCheck, creationTime: time,
                                      deepHealthCheckConfigurations: configurations, checkedNodes: checked)
    }

    // MARK: Status changes (R305)

    /// A later operation changes the TargetCount or MinCount of `groups`: their `InProgress` details are `Superseded`.
    /// - Returns: whether anything changed.
    public mutating func supersede(groups: Set<String>) -> Bool {
        var changed = false
        for i in scalingDetails.indices where scalingDetails[i].status == .inProgress && groups.contains(scalingDetails[i].instanceGroupName) {
            scalingDetails[i].status = .superseded
            changed = true
        }
        return changed
    }

    /// Moves the statuses after a change of the cluster (nil: the cluster is gone): a detail whose group is gone or
    /// `Deleting`, or whose cluster is `Deleting`, is `Superseded`; one whose group has CurrentCount = TargetCount and no
    /// `Pending`/`ShuttingDown` slot is `Done` (R305, the same test as R45's). A `DeepHealthCheck` is `Done` when no node
    /// it checked is `DeepHealthCheckInProgress`, `Superseded` when the cluster is deleted first.
    /// - Returns: whether anything changed.
    public mutating func reconcile(with lifecycle: ClusterLifecycle?) -> Bool {
        let deleting = lifecycle.map { $0.cluster.status == .deleting } ?? true
        switch kind {
        case .deepHealthCheck:
            guard deepHealthCheckStatus == .inProgress else { return false }
            if deleting {
                deepHealthCheckStatus = .superseded
                return true
            }
            let checked = Set(checkedNodes)
            guard let lifecycle, !lifecycle.nodes.contains(where: { checked.contains($0.logicalID) && $0.status == .deepHealthCheckInProgress })
            else { return false }
            deepHealthCheckStatus = .done
            return true
        case .scaling:
            var changed = false
            for i in scalingDetails.indices where scalingDetails[i].status == .inProgress {
                let name = scalingDetails[i].instanceGroupName
                guard !deleting, let lifecycle, let group = lifecycle.cluster.groups.first(where: { $0.name == name }),
                      group.status != .deleting else {
                    scalingDetails[i].status = .superseded
                    changed = true
                    continue
                }
                if !lifecycle.isScaling(group) {
                    scalingDetails[i].status = .done
                    changed = true
                }
            }
            return changed
        }
    }
}
