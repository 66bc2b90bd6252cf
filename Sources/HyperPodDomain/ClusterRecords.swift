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
    /// `AutoScaling.Status` (spec R46 A1–A5); nil when autoscaling was never configured.
    public var autoScalingStatus: ClusterAutoScalingStatus?
    /// The `TieredStorageConfig` in effect: set at the end of create or of the update that set it (spec R48, R81).
    public var appliedTieredStorageConfig: ClusterTieredStorageConfig?
    /// The Slurm `AccountingDatabase` in effect (spec R342): set at the end of create and when an update's change is
    /// applied, which records its event.
    public var appliedAccountingDatabase: ClusterAccountingDatabase?
    /// The `RestrictedInstanceGroupsConfig.SharedEnvironmentConfig` in effect (spec R341): set at the end of create and
    /// when a change is applied (T_config); the request's is the desired one.
    public var appliedSharedEnvironment: ClusterSharedEnvironmentConfig?
    /// The token of the pending T_config (or T_setup, for a mode conversion) timer; nil when no non-scaling change is
    /// being applied (spec C8, R72, R77, R81, R82). A timer carrying another token is stale.
    public var pendingConfigToken: Int?
    /// The last token handed out for T_config timers.
    public var configTokens: Int
    /// The last token handed out for group timers (T_min, retries, schedules); unique within the cluster.
    public var timerTokens: Int = 0
    /// What a legacy update changed, so a failure can roll it back (spec C9, R78); nil outside a legacy update.
    public var rollback: UpdateRollback?
    /// The UpdateClusterSoftware run in progress (spec R108, R109); nil when none is.
    public var softwareUpdate: SoftwareUpdateRun?

    public var name: String { request.clusterName }

    /// `NodeProvisioningMode: Continuous` (spec terms).
    public var isContinuous: Bool { request.nodeProvisioningMode == .continuous }

    /// Created with `Orchestrator.Eks`.
    public var isEKS: Bool { request.orchestrator?.eks != nil }

    public init(
        arn: String, clusterID: String, account: String, region: String, status: ClusterStatus, creationTime: VirtualTime,
        generation: Int64, request: CreateClusterRequest, groups: [InstanceGroupRecord], failureMessage: String? = nil,
        autoScalingStatus: ClusterAutoScalingStatus? = nil, appliedTieredStorageConfig: ClusterTieredStorageConfig? = nil,
        pendingConfigToken: Int? = nil, configTokens: Int = 0, rollback: UpdateRollback? = nil
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
        self.autoScalingStatus = autoScalingStatus
        self.appliedTieredStorageConfig = appliedTieredStorageConfig
        self.pendingConfigToken = pendingConfigToken
        self.configTokens = configTokens
        self.rollback = rollback
    }

    /// The Slurm Controller group (spec R99): the group with `SlurmConfig.NodeType: Controller`; in a Slurm cluster
    /// without SlurmConfig, the first-created group whose name contains `controller` (any case).
    public var slurmControllerGroup: String? {
        if isEKS { return nil }
        if let group = groups.first(where: { $0.spec.slurmConfig?.nodeType == .controller }) { return group.name }
        if groups.contains(where: { $0.spec.slurmConfig != nil }) { return nil }
        return groups.first { $0.restrictedSpec == nil && $0.name.lowercased().contains("controller") }?.name
    }
}

/// The state a legacy update started from, kept until the update ends (spec C9, R78).
public struct UpdateRollback: Sendable, Equatable {
    /// The cluster-level settings before the update.
    public var request: CreateClusterRequest
    /// The groups before the update.
    public var groups: [InstanceGroupRecord]
    /// Slots the update created: they terminate on rollback.
    public var newSlots: [String]

    public init(request: CreateClusterRequest, groups: [InstanceGroupRecord], newSlots: [String] = []) {
        self.request = request
        self.groups = groups
        self.newSlots = newSlots
    }
}

/// An instance group: its specification as sent plus its state.
public struct InstanceGroupRecord: Sendable, Equatable {
    public var spec: ClusterInstanceGroupSpecification
    public var status: InstanceGroupStatus
    /// The desired count (spec R44).
    public var targetCount: Int
    /// The request of a restricted instance group (spec R64, R70), as sent; `spec` then holds its members that
    /// instance groups share.
    public var restrictedSpec: ClusterRestrictedInstanceGroupSpecification?
    /// `TargetCount` and `MinCount` the last time the group was `InService`: where a MinInstanceCount timeout returns
    /// it (spec R73); nil for a group that was never `InService`.
    public var lastInService: Counts?
    /// The token of the pending T_min timer (spec R73); every change of the minimum hands out a new one.
    public var minCountToken: Int
    /// The next Continuous retry round's delay in virtual seconds, while launches wait for capacity (spec R40, R118);
    /// nil when no retry is pending.
    public var retryDelay: Double?
    /// The token of the pending retry timer.
    public var retryToken: Int
    /// A batch of the group is launching or being health-checked (batches run one after another, spec R40).
    public var batchInFlight: Bool
    /// The Kubernetes labels and taints on the nodes (`Current*`); the spec's are the desired ones (spec R72).
    public var appliedKubernetesConfig: ClusterKubernetesConfig?
    /// The group operation whose "completed" event is still due (spec R112).
    public var operation: GroupOperation?
    /// The image the group's nodes run and the one they should run (spec R72, R108); nil: the spec's `ImageId`
    /// (absent or `default` = the latest platform AMI).
    public var currentImageID: String?
    public var desiredImageID: String?
    /// `SoftwareUpdateStatus` (spec R46 S1–S6); nil until a software update targets the group.
    public var softwareUpdateStatus: SoftwareUpdateStatus?
    /// The token of the pending `ScheduledUpdateConfig` timer (spec R110); every change of the schedule hands out a new one.
    public var scheduleToken: Int = 0
    /// The automatic patch pending or running (spec R339, R340); nil when none is.
    public var autoPatch: AutoPatchRun?
    /// Nodes a MoveClusterNodes accepted into this group that have not arrived yet (spec R324): counted in TargetCount,
    /// without a slot until the hand-off.
    public var incomingMoves: Int = 0
    /// Its slots wait for a window of its plan (spec R224): they do not hold the group's operation up.
    public var awaitingPlanWindow: Bool = false

    /// Counts a group can return to (spec R73).
    public struct Counts: Sendable, Equatable {
        public var targetCount: Int
        public var minCount: Int?

        public init(targetCount: Int, minCount: Int?) {
            self.targetCount = targetCount
            self.minCount = minCount
        }
    }

    public var name: String { spec.instanceGroupName }

    /// The instance types the group may launch, in priority order (spec R76): its `InstanceType`, or its flexible list.
    public var instanceTypes: [String] {
        if let type = spec.instanceType { return [type.rawValue] }
        return spec.instanceRequirements?.instanceTypes.map(\.rawValue) ?? []
    }

    public init(
        spec: ClusterInstanceGroupSpecification, status: InstanceGroupStatus, targetCount: Int,
        restrictedSpec: ClusterRestrictedInstanceGroupSpecification? = nil, lastInService: Counts? = nil,
        minCountToken: Int = 0, retryDelay: Double? = nil, retryToken: Int = 0, batchInFlight: Bool = false,
        appliedKubernetesConfig: ClusterKubernetesConfig? = nil, operation: GroupOperation? = nil
    ) {
        self.spec = spec
        self.status = status
        self.targetCount = targetCount
        self.restrictedSpec = restrictedSpec
        self.lastInService = lastInService
        self.minCountToken = minCountToken
        self.retryDelay = retryDelay
        self.retryToken = retryToken
        self.batchInFlight = batchInFlight
        self.appliedKubernetesConfig = appliedKubernetesConfig
        self.operation = operation
    }
}

extension ClusterInstanceGroupSpecification {
    /// The members a restricted instance group shares with instance groups (spec R64: stored "with nodes and counts as
    /// for instance groups").
    public init(restricted r: ClusterRestrictedInstanceGroupSpecification) {
        self.init(
            instanceCount: r.instanceCount, instanceGroupName: r.instanceGroupName, instanceType: r.instanceType,
            executionRole: r.executionRole, threadsPerCore: r.threadsPerCore, instanceStorageConfigs: r.instanceStorageConfigs,
            onStartDeepHealthChecks: r.onStartDeepHealthChecks, trainingPlanArn: r.trainingPlanArn,
            overrideVpcConfig: r.overrideVpcConfig, scheduledUpdateConfig: r.scheduledUpdateConfig
        )
    }

    /// The instance type a group's count is charged to (spec R84: a flexible group to its first type).
    public var chargedInstanceType: String {
        instanceType?.rawValue ?? instanceRequirements?.instanceTypes.first?.rawValue ?? "unknown"
    }

    /// The key its TargetCount is counted under for quotas: its charged type, or for a plan-backed group the charged
    /// type behind `Quotas.reservedPrefix` — left out of `<type> for cluster usage` but counted in the per-cluster and
    /// total-instance quotas (spec R223).
    public var quotaInstanceType: String {
        trainingPlanArn == nil ? chargedInstanceType : Quotas.reservedPrefix + chargedInstanceType
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
    /// The instance type of the instance (a flexible group's nodes differ, spec R76); nil while the slot has none.
    public var instanceType: String?
    /// The group's `LifeCycleConfig` when the instance was launched (spec R72, R94: later changes apply to nodes
    /// launched afterwards).
    public var lifeCycleConfig: ClusterLifeCycleConfig?
    /// Zones and instance types this slot may use (BatchAddClusterNodes narrows them, spec R100, R116); nil: the group's.
    public var allowedZones: [String]?
    public var allowedTypes: [String]?
    /// `Pending` because of a reboot (N6), not a launch.
    public var rebooting: Bool = false
    /// The image the instance runs (spec R108); nil: its group's current one.
    public var imageID: String?
    /// `LastSoftwareUpdateTime` (spec R93, R108).
    public var lastSoftwareUpdateTime: VirtualTime?
    /// The subnet the instance was launched into (spec R116; R322 compares it with a move's target group); nil for a
    /// slot without an instance, a cluster without VpcConfig, or a node stored before it was recorded.
    public var subnet: String?
    /// Where the node is going while `DetachInProgress` (spec R324); nil otherwise.
    public var moveTarget: NodeMoveTarget?
    /// The RC whose unit the instance holds (spec R223, R212: held from launch until the node is removed); nil for an
    /// on-demand instance or a slot without one.
    public var reservedCapacityARN: String?
    /// `UltraServerInfo` of a node on an UltraServer RC (spec R228).
    public var ultraServerID: String?
    public var ultraServerType: String?

    public init(
        logicalID: String, instanceID: String?, groupName: String, status: ClusterInstanceStatus, message: String = "",
        slotCreated: VirtualTime, launchTime: VirtualTime?, privateIP: UInt32?, zone: String?, reachedRunning: Bool = false,
        instanceType: String? = nil, lifeCycleConfig: ClusterLifeCycleConfig? = nil
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
        self.instanceType = instanceType
        self.lifeCycleConfig = lifeCycleConfig
    }

    /// Counts toward its group's CurrentCount (spec R44).
    public var isCurrent: Bool { reachedRunning && status != .failure }
}
