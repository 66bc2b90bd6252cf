import SageMakerShapes

/// A cluster as the emulator keeps it: the request as sent (DescribeCluster echoes what was set) plus its state.
public struct ClusterRecord: Sendable, Equatable {
    public var arn: String
    public var clusterID: String
    public var account: String
    public var region: String
    public var status: ClusterStatus
    public var creationTime: VirtualTime
    /// Bumped whenever a change replaces the pending plan (delete, update): timers set under an older generation are
    /// stale (architecture §3.2).
    public var generation: Int64
    /// The CreateCluster request as sent.
    public var request: CreateClusterRequest
    public var groups: [InstanceGroupRecord]
    public var failureMessage: String?

    public var name: String { request.clusterName }

    /// `NodeProvisioningMode: Continuous` (spec terms).
    public var isContinuous: Bool { request.nodeProvisioningMode == .continuous }

    /// Created with `Orchestrator.Eks`.
    public var isEKS: Bool { request.orchestrator?.eks != nil }

    public init(
        arn: String, clusterID: String, account: String, region: String, status: ClusterStatus, creationTime: VirtualTime,
        generation: Int64, request: CreateClusterRequest, groups: [InstanceGroupRecord], failureMessage: String? = nil
    ) {
        self.arn = arn
        self.clusterID = clusterID
        self.account = account
        self.region = region
        self.status = status
        self.creationTime = creationTime
        self.generation = generation
        self.request = request
        self.groups = groups
        self.failureMessage = failureMessage
    }
}

/// An instance group: its specification as sent plus its state.
public struct InstanceGroupRecord: Sendable, Equatable {
    public var spec: ClusterInstanceGroupSpecification
    public var status: InstanceGroupStatus
    /// The desired count (spec R44).
    public var targetCount: Int

    public var name: String { spec.instanceGroupName }

    public init(spec: ClusterInstanceGroupSpecification, status: InstanceGroupStatus, targetCount: Int) {
        self.spec = spec
        self.status = status
        self.targetCount = targetCount
    }
}

/// A node slot (spec terms): a position in a group with a NodeLogicalId, holding at most one instance at a time.
public struct NodeRecord: Sendable, Equatable {
    public var logicalID: String
    public var instanceID: String?
    public var groupName: String
    public var status: ClusterInstanceStatus
    /// `InstanceStatus.Message`: `""` when there is nothing to say (spec R11).
    public var message: String
    public var slotCreated: VirtualTime
    /// When the instance was obtained (spec N2).
    public var launchTime: VirtualTime?
    public var privateIP: UInt32?
    public var zone: String?
    /// Reached `Running` at least once (spec R44: counted in CurrentCount until removed, unless in `Failure`).
    public var reachedRunning: Bool

    public init(
        logicalID: String, instanceID: String?, groupName: String, status: ClusterInstanceStatus, message: String = "",
        slotCreated: VirtualTime, launchTime: VirtualTime?, privateIP: UInt32?, zone: String?, reachedRunning: Bool = false
    ) {
        self.logicalID = logicalID
        self.instanceID = instanceID
        self.groupName = groupName
        self.status = status
        self.message = message
        self.slotCreated = slotCreated
        self.launchTime = launchTime
        self.privateIP = privateIP
        self.zone = zone
        self.reachedRunning = reachedRunning
    }

    /// Counts toward its group's CurrentCount (spec R44).
    public var isCurrent: Bool { reachedRunning && status != .failure }
}
