import JSON
import SageMakerShapes

/// A delayed transition of a cluster, as stored in a timer row (spec §5).
public enum LifecycleEvent: Sendable, Equatable {
    /// Cluster-level setup is done: groups start launching (C1 → launches, C3).
    case setupComplete
    /// A batch of a group finished EC2 launch and lifecycle scripts (N3, N4).
    case batchLaunched(group: String, nodes: [String])
    /// A batch finished its deep health check (N4).
    case deepHealthCheckComplete(group: String, nodes: [String])
    /// Terminating nodes are gone (N11).
    case nodesTerminated(nodes: [String])
    /// Teardown after the last node (C14).
    case teardownComplete
    /// A non-scaling change is applied, T_config after it was accepted (C8, A2, A5, R48, R72, R81; T_setup for a mode
    /// conversion, R82). Stale unless `token` is the cluster's pending one.
    case configApplied(token: Int)
    /// A Continuous group's retry round for slots waiting for capacity (R40, R118). Stale unless `token` is the group's.
    case launchRetry(group: String, token: Int)
    /// Legacy: the batch that could not get capacity ends; the create or update fails (C5, C9, R117).
    case launchFailed(group: String)
    /// A legacy rollback is done, T_rollback after the failure (C6, C9).
    case rollbackComplete
    /// A group's MinInstanceCount timeout, T_min after the minimum last changed (R73, G5). Stale unless `token` is the
    /// group's.
    case minCountTimeout(group: String, token: Int)
    /// A group named in `InstanceGroupsToDelete` is gone with its nodes, T_term after the request (G8, R75).
    case groupDeleted(group: String)
    /// A StartClusterHealthCheck run on these nodes ends, T_dhc after it started (N7, R104).
    case healthCheckComplete(nodes: [String])
    /// A reboot of these nodes ends, T_reboot after it started (N6, R103).
    case rebootComplete(nodes: [String])
    /// Failed nodes of a cluster with NodeRecovery `Automatic` are replaced, T_reboot after the failure (N10, R121).
    case replaceFailed(nodes: [String])
    /// A software update batch is patched, T_patch after it started (N8, R108).
    case softwarePatched(group: String, nodes: [String])
    /// A software update batch's baking period (`WaitIntervalInSeconds`) ended (R108).
    case softwareBaked(group: String)
    /// A rollback batch is reverted, T_patch after it started (S5, R109).
    case softwareReverted(group: String, nodes: [String])
    /// A group's `ScheduledUpdateConfig` matches now (R110). Stale unless `token` is the group's.
    case scheduledUpdate(group: String, token: Int)
    /// Moving nodes leave their source cluster, T_term after MoveClusterNodes accepted them (R324). The service hands
    /// them to their target cluster: it is the one transition that changes two clusters.
    case movedNodesDetached(nodes: [String])
    /// Moved nodes ran the target group's scripts, T_launch after the hand-off (R324).
    case movedNodesAttached(group: String, nodes: [String])
    /// Moved nodes finished the target group's on-start deep health checks (R324, N4).
    case movedNodesHealthChecked(group: String, nodes: [String])
    /// A group's automatic patch reaches its NextPatchDate (R340). Stale unless `token` is the run's.
    case autoPatchDue(group: String, token: Int)
    /// A rescheduled NextPatchDate becomes the current one, T_config after UpdateCluster (R339).
    case autoPatchScheduleApplied(group: String, token: Int)
    /// Auto-patched nodes run the target release, T_patch after they started (R340, N8).
    case autoPatchNodesPatched(group: String, nodes: [String], token: Int)
    /// The idle window of a WhenIdle/WhenAllIdle patch ends (R340).
    case autoPatchWindowEnded(group: String, token: Int)
    /// The drain timeout of a DrainFirst batch with busy nodes ends (R340).
    case autoPatchDrained(group: String, nodes: [String], token: Int)

    /// The timer row's text.
    public var encoded: String {
        var object: JSONObject
        switch self {
        case .setupComplete: object = ["event": .string("setupComplete")]
        case .batchLaunched(let group, let nodes):
            object = ["event": .string("batchLaunched"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string))]
        case .deepHealthCheckComplete(let group, let nodes):
            object = ["event": .string("deepHealthCheckComplete"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string))]
        case .nodesTerminated(let nodes): object = ["event": .string("nodesTerminated"), "nodes": .array(nodes.map(JSONValue.string))]
        case .teardownComplete: object = ["event": .string("teardownComplete")]
        case .configApplied(let token): object = ["event": .string("configApplied"), "token": .integer(Int64(token))]
        case .launchRetry(let group, let token):
            object = ["event": .string("launchRetry"), "group": .string(group), "token": .integer(Int64(token))]
        case .launchFailed(let group): object = ["event": .string("launchFailed"), "group": .string(group)]
        case .rollbackComplete: object = ["event": .string("rollbackComplete")]
        case .minCountTimeout(let group, let token):
            object = ["event": .string("minCountTimeout"), "group": .string(group), "token": .integer(Int64(token))]
        case .groupDeleted(let group): object = ["event": .string("groupDeleted"), "group": .string(group)]
        case .healthCheckComplete(let nodes):
            object = ["event": .string("healthCheckComplete"), "nodes": .array(nodes.map(JSONValue.string))]
        case .rebootComplete(let nodes): object = ["event": .string("rebootComplete"), "nodes": .array(nodes.map(JSONValue.string))]
        case .replaceFailed(let nodes): object = ["event": .string("replaceFailed"), "nodes": .array(nodes.map(JSONValue.string))]
        case .softwarePatched(let group, let nodes):
            object = ["event": .string("softwarePatched"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string))]
        case .softwareBaked(let group): object = ["event": .string("softwareBaked"), "group": .string(group)]
        case .scheduledUpdate(let group, let token):
            object = ["event": .string("scheduledUpdate"), "group": .string(group), "token": .integer(Int64(token))]
        case .softwareReverted(let group, let nodes):
            object = ["event": .string("softwareReverted"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string))]
        case .movedNodesDetached(let nodes): object = ["event": .string("movedNodesDetached"), "nodes": .array(nodes.map(JSONValue.string))]
        case .movedNodesAttached(let group, let nodes):
            object = ["event": .string("movedNodesAttached"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string))]
        case .movedNodesHealthChecked(let group, let nodes):
            object = ["event": .string("movedNodesHealthChecked"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string))]
        case .autoPatchDue(let group, let token):
            object = ["event": .string("autoPatchDue"), "group": .string(group), "token": .integer(Int64(token))]
        case .autoPatchScheduleApplied(let group, let token):
            object = ["event": .string("autoPatchScheduleApplied"), "group": .string(group), "token": .integer(Int64(token))]
        case .autoPatchNodesPatched(let group, let nodes, let token):
            object = ["event": .string("autoPatchNodesPatched"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string)),
                      "token": .integer(Int64(token))]
        case .autoPatchWindowEnded(let group, let token):
            object = ["event": .string("autoPatchWindowEnded"), "group": .string(group), "token": .integer(Int64(token))]
        case .autoPatchDrained(let group, let nodes, let token):
            object = ["event": .string("autoPatchDrained"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string)),
                      "token": .integer(Int64(token))]
        }
        return String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self)
    }

    /// Decodes a timer row's text; nil for text this version does not know.
    public init?(encoded: String) {
        guard let object = try? JSONParser.parse(encoded).objectValue, let name = object["event"]?.stringValue else { return nil }
        let nodes = object["nodes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let group = object["group"]?.stringValue ?? ""
        var token = 0
        if case .integer(let value)? = object["token"] { token = Int(value) }
        switch name {
        case "setupComplete": self = .setupComplete
        case "batchLaunched": self = .batchLaunched(group: group, nodes: nodes)
        case "deepHealthCheckComplete": self = .deepHealthCheckComplete(group: group, nodes: nodes)
        case "nodesTerminated": self = .nodesTerminated(nodes: nodes)
        case "teardownComplete": self = .teardownComplete
        case "configApplied": self = .configApplied(token: token)
        case "launchRetry": self = .launchRetry(group: group, token: token)
        case "launchFailed": self = .launchFailed(group: group)
        case "rollbackComplete": self = .rollbackComplete
        case "minCountTimeout": self = .minCountTimeout(group: group, token: token)
        case "groupDeleted": self = .groupDeleted(group: group)
        case "healthCheckComplete": self = .healthCheckComplete(nodes: nodes)
        case "rebootComplete": self = .rebootComplete(nodes: nodes)
        case "replaceFailed": self = .replaceFailed(nodes: nodes)
        case "softwarePatched": self = .softwarePatched(group: group, nodes: nodes)
        case "softwareBaked": self = .softwareBaked(group: group)
        case "scheduledUpdate": self = .scheduledUpdate(group: group, token: token)
        case "softwareReverted": self = .softwareReverted(group: group, nodes: nodes)
        case "movedNodesDetached": self = .movedNodesDetached(nodes: nodes)
        case "movedNodesAttached": self = .movedNodesAttached(group: group, nodes: nodes)
        case "movedNodesHealthChecked": self = .movedNodesHealthChecked(group: group, nodes: nodes)
        case "autoPatchDue": self = .autoPatchDue(group: group, token: token)
        case "autoPatchScheduleApplied": self = .autoPatchScheduleApplied(group: group, token: token)
        case "autoPatchNodesPatched": self = .autoPatchNodesPatched(group: group, nodes: nodes, token: token)
        case "autoPatchWindowEnded": self = .autoPatchWindowEnded(group: group, token: token)
        case "autoPatchDrained": self = .autoPatchDrained(group: group, nodes: nodes, token: token)
        default: return nil
        }
    }
}

/// What the caller must do after a transition.
public enum LifecycleEffect: Sendable, Equatable {
    /// Persist a timer for `event`, `afterSeconds` of virtual time after the transition's own instant.
    case schedule(LifecycleEvent, afterSeconds: Double)
    /// Delete the cluster record with its nodes and tags (C14).
    case removeCluster
    /// Delete a pending timer of this cluster that can no longer do anything (so a settle does not run the clock on to it).
    case cancel(LifecycleEvent)
}

/// New identities and random choices for node slots; the caller supplies them (random ids, addresses free in the
/// partition, a generator reproducible under `--seed`).
public protocol NodeAllocator {
    mutating func newLogicalID() -> String
    mutating func newInstanceID() -> String
    /// A free private address in the block of `subnet` (spec R35).
    mutating func newAddress(subnet: String?) -> UInt32
    /// A pseudo-random index in `0..<upperBound` (scale-down victims, spec R74).
    mutating func randomIndex(below upperBound: Int) -> Int
}

/// What a transition works with besides the cluster: the instant it happens at (virtual time), the durations, the
/// free capacity of the cluster's partition, and where new identities come from.
public struct LifecycleContext {
    /// The transition's own instant: its due time, or the request's acceptance time.
    public var now: VirtualTime
    public var timing: TimingProfile
    public var capacity: CapacityPools
    public var allocator: any NodeAllocator
    /// Alarms set to `ALARM` through the admin API (spec R108, RA7); every other alarm is `OK`.
    public var alarmsInAlarm: Set<String>
    /// Injected launch failures (RA7 `launch-failure`); a transition consumes them, the caller stores what is left.
    public var launchFaults: [LaunchFault] = []
    /// `SourceS3Uri` prefixes whose bucket is marked missing (RA7 `lifecycle-bucket-missing`, R119).
    public var missingBuckets: [String] = []
    /// An injected failure of the cluster's accounting database changes (RA22 `accounting-db-failure`, R342).
    public var accountingDatabaseFailure: AccountingDatabaseFailure?
    /// The partition's HyperPod AMI releases (R334); nil: the catalogue a region starts with.
    public var images: ImageCatalogue?
    /// Nodes RA22 `node-busy` faults mark busy (InstanceIds or NodeLogicalIds): automatic patches wait for them (R340).
    public var busyNodes: Set<String> = []
    /// The reserved capacity of the plans the cluster's groups name (R223): plan-backed groups launch only from it.
    public var plans = PlanCapacity()

    /// How an accounting database change fails (spec R342): its `RollbackStatus` and `FailureMessage`.
    public struct AccountingDatabaseFailure: Sendable, Equatable {
        public var rollbackStatus: DatabaseConfigurationRollbackStatus
        public var message: String
        public init(rollbackStatus: DatabaseConfigurationRollbackStatus, message: String) {
            self.rollbackStatus = rollbackStatus
            self.message = message
        }
    }

    /// The next `count` launches of an instance type fail (spec RA7, R116–R120).
    public struct LaunchFault: Sendable, Equatable {
        public enum Cause: String, Sendable { case capacity, lifecycleScript = "lifecycle-script", healthCheck = "health-check" }
        public var id: String
        public var instanceType: String
        public var cause: Cause
        public var remaining: Int

        public init(id: String, instanceType: String, cause: Cause, remaining: Int) {
            self.id = id
            self.instanceType = instanceType
            self.cause = cause
            self.remaining = remaining
        }
    }

    /// Takes one injected failure of `cause` for `type`, if one is left.
    mutating func consumeLaunchFault(type: String, cause: LaunchFault.Cause) -> Bool {
        guard let i = launchFaults.firstIndex(where: { $0.instanceType == type && $0.cause == cause && $0.remaining > 0 }) else { return false }
        launchFaults[i].remaining -= 1
        return true
    }

    /// Whether a launching node's scripts or health checks fail (R119, R120): the error text, nil when they pass.
    mutating func launchError(for node: NodeRecord) -> String? {
        let scripts = "Lifecycle scripts did not run successfully. Ensure the scripts exist in provided S3 path, are accessible, and run without errors. Please see CloudWatch logs for lifecycle script execution details."
        if let uri = node.lifeCycleConfig?.sourceS3Uri, missingBuckets.contains(where: { uri.hasPrefix($0) }) { return scripts }
        guard let type = node.instanceType else { return nil }
        if consumeLaunchFault(type: type, cause: .lifecycleScript) { return scripts }
        if consumeLaunchFault(type: type, cause: .healthCheck) {
            return "EFA health checks did not run successfully. Ensure that your VPC and security groups are properly configured before attempting to create a new cluster."
        }
        return nil
    }

    public init(now: VirtualTime, timing: TimingProfile, capacity: CapacityPools = .unlimited, allocator: any NodeAllocator,
                alarmsInAlarm: Set<String> = []) {
        self.alarmsInAlarm = alarmsInAlarm
        self.now = now
        self.timing = timing
        self.capacity = capacity
        self.allocator = allocator
    }
}

/// The `FailureMessage` of a legacy capacity shortfall (spec R117).
public let insufficientCapacityMessage = "We currently do not have sufficient capacity for the requested instance type(s). Please try again."

/// A cluster and its node slots, and the transitions between their states (spec §5). A value: the caller loads it,
/// calls one method, performs the returned effects and stores it, all in one transaction. It reads no clock.
public struct ClusterLifecycle: Sendable, Equatable {
    /// Nodes launched together in a group; a group's batches run one after another, groups in parallel (spec R40).
    public static let batchSize = 50
    /// The longest Continuous retry back-off, in virtual seconds (spec R40).
    public static let maximumRetryDelay = 300.0

    public var cluster: ClusterRecord
    /// Every slot of the cluster, in creation order.
    public var nodes: [NodeRecord]
    /// Events recorded by the last transition, for the caller to store (spec R111); not part of the stored state.
    public var newEvents: [ClusterEventRecord] = []

    public init(cluster: ClusterRecord, nodes: [NodeRecord]) {
        self.cluster = cluster
        self.nodes = nodes
    }

    /// C1, G1: a cluster accepted by CreateCluster — `Creating`, groups `Creating` with `TargetCount` = `InstanceCount`,
    /// no nodes yet; setup completes after T_setup. Groups with a MinInstanceCount get their T_min timer (R73).
    public static func create(
        request: CreateClusterRequest, arn: String, clusterID: String, account: String, region: String,
        at now: VirtualTime, timing: TimingProfile, images: ImageCatalogue? = nil
    ) -> (ClusterLifecycle, [LifecycleEffect]) {
        var groups = (request.instanceGroups ?? []).map {
            InstanceGroupRecord(spec: $0, status: .creating, targetCount: $0.instanceCount, appliedKubernetesConfig: $0.kubernetesConfig,
                                operation: .create)
        }
        let catalogue = images ?? .initial(region: region)
        for i in groups.indices {  // R334, R335: the AMI of the group's architecture (or release, or its custom one)
            groups[i].spec.autoPatchConfig?.patchSchedule = nil  // R339: ignored at create
            groups[i].currentImageID = catalogue.image(for: groups[i].spec)
            groups[i].desiredImageID = groups[i].currentImageID
        }
        groups += (request.restrictedInstanceGroups ?? []).map {
            InstanceGroupRecord(spec: ClusterInstanceGroupSpecification(restricted: $0), status: .creating, targetCount: $0.instanceCount,
                                restrictedSpec: $0, operation: .create)
        }
        var effects: [LifecycleEffect] = [.schedule(.setupComplete, afterSeconds: timing[.setup])]
        // R57: a legacy API-driven Slurm cluster's SlurmConfigStrategy defaults to Managed and is echoed, also for
        // `"Slurm": {}` (a public bug report: SDKs that send the empty object read the default back).
        var stored = request
        if request.nodeProvisioningMode != .continuous, var slurm = stored.orchestrator?.slurm, slurm.slurmConfigStrategy == nil {
            slurm.slurmConfigStrategy = .managed
            stored.orchestrator?.slurm = slurm
        }
        if let database = stored.orchestrator?.slurm?.accountingDatabase {  // R342: echoed with its defaults
            stored.orchestrator?.slurm?.accountingDatabase = Self.withDefaults(database, clusterID: clusterID)
        }
        let cluster = ClusterRecord(
            arn: arn, clusterID: clusterID, account: account, region: region, status: .creating, creationTime: now,
            generation: 1, request: stored, groups: groups,
            autoScalingStatus: request.autoScaling?.mode == .enable ? .creating : nil
        )
        var lifecycle = ClusterLifecycle(cluster: cluster, nodes: [])
        for g in lifecycle.cluster.groups.indices {
            if request.nodeProvisioningMode == .continuous { effects += lifecycle.restartMinCountTimer(g, timing: timing) }
            effects += lifecycle.restartSchedule(g, at: now)
        }
        effects += lifecycle.detectPatches(images: catalogue, now: now)  // R339: a group created below its line's patch
        lifecycle.recordCluster("create", .started)
        for group in groups { lifecycle.recordGroup(group.name, .create, .started) }
        return (lifecycle, effects)
    }

    /// CurrentCount of a group (spec R44).
    public func currentCount(of group: String) -> Int {
        nodes.reduce(0) { $0 + ($1.groupName == group && $1.isCurrent ? 1 : 0) }
    }

    /// A Continuous group has a scaling operation in progress (spec R45): CurrentCount ≠ TargetCount, or a slot is
    /// `Pending` or `ShuttingDown`.
    public func isScaling(_ group: InstanceGroupRecord) -> Bool {
        currentCount(of: group.name) != group.targetCount
            || nodes.contains { $0.groupName == group.name && ($0.status == .pending || $0.status == .shuttingDown) }
    }

    func groupIndex(_ name: String) -> Int? { cluster.groups.firstIndex { $0.name == name } }

    /// The partition's AMI releases a change works with (R334).
    func images(_ context: LifecycleContext) -> ImageCatalogue { context.images ?? .initial(region: cluster.region) }

    /// A timer token never handed out before in this cluster: a group re-created under an old name cannot match the
    /// timers of its predecessor.
    mutating func nextToken() -> Int {
        cluster.timerTokens += 1
        return cluster.timerTokens
    }

    /// Applies a fired timer at its due time, with unlimited capacity.
    public mutating func handle<A: NodeAllocator>(
        _ event: LifecycleEvent, at now: VirtualTime, timing: TimingProfile, allocator: inout A
    ) -> [LifecycleEffect] {
        var context = LifecycleContext(now: now, timing: timing, allocator: allocator)
        defer { allocator = context.allocator as! A }
        return handle(event, context: &context)
    }

    /// Applies a fired timer at its due time `context.now`.
    public mutating func handle(_ event: LifecycleEvent, context: inout LifecycleContext) -> [LifecycleEffect] {
        var effects: [LifecycleEffect] = []
        switch event {
        case .setupComplete:
            guard cluster.status == .creating else { return [] }
            for index in cluster.groups.indices where cluster.groups[index].status == .creating {
                let name = cluster.groups[index].name
                addSlots(to: name, count: cluster.groups[index].targetCount, context: &context)
                effects += startLaunches(name, context: &context)
            }
            if cluster.isContinuous && cluster.isEKS { leaveCreating() }  // C3
        case .batchLaunched(let group, let batch):
            let members = Set(batch)
            guard let g = groupIndex(group), nodes.contains(where: { members.contains($0.logicalID) && $0.groupName == group }) else {
                return []  // the batch's slots are gone (with their group, or terminated)
            }
            let deepHealthChecks = !(cluster.groups[g].spec.onStartDeepHealthChecks ?? []).isEmpty
            var failures: [(index: Int, message: String)] = []
            for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .pending && nodes[i].instanceID != nil {
                if let error = context.launchError(for: nodes[i]) {
                    failures.append((i, error))
                    continue
                }
                recordInstance(nodes[i], "Instance lifecycle script execution for EC2 Instance \(nodes[i].instanceID ?? "") has Succeeded")
                if deepHealthChecks {
                    nodes[i].status = .deepHealthCheckInProgress  // N4
                } else {
                    nodes[i].status = .running  // N3
                    nodes[i].reachedRunning = true
                }
            }
            if !failures.isEmpty { effects += failLaunches(failures, group: g, context: &context) }
            if deepHealthChecks && cluster.status != .rollingBack {
                effects.append(.schedule(.deepHealthCheckComplete(group: group, nodes: batch), afterSeconds: context.timing[.deepHealthCheck]))
            } else {
                cluster.groups[g].batchInFlight = false
                effects += launchNextBatch(group, timing: context.timing)
            }
        case .deepHealthCheckComplete(let group, let batch):
            let members = Set(batch)
            guard nodes.contains(where: { members.contains($0.logicalID) && $0.groupName == group }) else { return [] }
            for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .deepHealthCheckInProgress {
                nodes[i].status = .running
                nodes[i].reachedRunning = true
            }
            guard let g = groupIndex(group) else { return [] }
            cluster.groups[g].batchInFlight = false
            effects += launchNextBatch(group, timing: context.timing)
        case .nodesTerminated(let gone):
            let emptiedGroups = Set(nodes.filter { gone.contains($0.logicalID) }.map(\.groupName))
            removeNodes(Set(gone), context: &context)
            if cluster.status == .deleting {
                // Each group records the end of its scale-down to zero, naming itself, before the cluster goes (issue #15).
                for group in cluster.groups where emptiedGroups.contains(group.name) && !nodes.contains(where: { $0.groupName == group.name }) {
                    recordGroup(group.name, .delete, .completed)
                }
            }
            if cluster.status == .deleting && nodes.isEmpty {
                return [.schedule(.teardownComplete, afterSeconds: context.timing[.delete])]
            }
        case .teardownComplete:
            guard cluster.status == .deleting, nodes.isEmpty else { return [] }
            return [.removeCluster]
        case .configApplied(let token):
            guard cluster.pendingConfigToken == token else { return [] }
            cluster.pendingConfigToken = nil
            for i in cluster.groups.indices { cluster.groups[i].appliedKubernetesConfig = cluster.groups[i].spec.kubernetesConfig }
            cluster.appliedTieredStorageConfig = cluster.request.tieredStorageConfig
            cluster.appliedSharedEnvironment = cluster.request.restrictedInstanceGroupsConfig?.sharedEnvironmentConfig  // R341
            // R342: an accounting database change takes effect now, with its Cluster event; an injected failure records
            // an Error and, unless it could not revert, puts the stored value back.
            if let database = cluster.request.orchestrator?.slurm?.accountingDatabase, database != cluster.appliedAccountingDatabase {
                if let failure = context.accountingDatabaseFailure {
                    newEvents.append(ClusterEventRecord(
                        resourceType: .cluster, level: .error, description: "Slurm accounting database configuration failed in Cluster \(c)",
                        metadata: .databaseConfiguration(DatabaseConfigurationMetadata(rollbackStatus: failure.rollbackStatus,
                                                                                       failureMessage: failure.message))))
                    if failure.rollbackStatus == .revertFailed {
                        cluster.appliedAccountingDatabase = database
                    } else {
                        cluster.request.orchestrator?.slurm?.accountingDatabase = cluster.appliedAccountingDatabase
                    }
                } else {
                    cluster.appliedAccountingDatabase = database
                    newEvents.append(ClusterEventRecord(
                        resourceType: .cluster, level: .info, description: "Slurm accounting database configuration updated in Cluster \(c)",
                        metadata: .databaseConfiguration(DatabaseConfigurationMetadata())))
                }
            }
            switch cluster.autoScalingStatus {
            case .creating?:
                cluster.autoScalingStatus = .inService  // A2
                newEvents.append(ClusterEventRecord(resourceType: .cluster, level: .info,
                                                    description: "AutoScaling enable completed successfully in Cluster \(c)"))
            case .deleting?:
                cluster.autoScalingStatus = .inService  // A5
                newEvents.append(ClusterEventRecord(resourceType: .cluster, level: .info,
                                                    description: "AutoScaling disable completed successfully in Cluster \(c)"))
            default: break
            }
        case .launchRetry(let group, let token):
            guard let g = groupIndex(group), cluster.groups[g].retryToken == token, cluster.status != .deleting else { return [] }
            effects += retryRound(g, context: &context)
        case .launchFailed(let group):
            effects += failLegacyLaunch(group, context: &context)
        case .rollbackComplete:
            completeRollback(context: &context)
        case .minCountTimeout(let group, let token):
            guard let g = groupIndex(group), cluster.groups[g].minCountToken == token,
                  [.creating, .updating].contains(cluster.groups[g].status),
                  currentCount(of: group) < (cluster.groups[g].spec.minInstanceCount ?? 0) else { return [] }
            effects += rollBackMinCount(g, context: &context)
        case .groupDeleted(let group):
            guard let g = groupIndex(group), cluster.groups[g].status == .deleting else { return [] }
            removeNodes(Set(nodes.filter { $0.groupName == group }.map(\.logicalID)), context: &context)
            cluster.groups.remove(at: g)
            recordGroup(group, .delete, .completed)
        case .healthCheckComplete(let checked):
            let members = Set(checked)
            for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .deepHealthCheckInProgress {
                nodes[i].status = .running
            }
        case .rebootComplete(let rebooted):
            let members = Set(rebooted)
            for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .pending && nodes[i].rebooting {
                nodes[i].status = .running
                nodes[i].rebooting = false
                nodes[i].reachedRunning = true
                nodes[i].message = ""
                recordInstance(nodes[i], "Instance reboot \(nodes[i].instanceID ?? "") in Cluster \(c) and IG \(nodes[i].groupName) completed successfully")
            }
        case .replaceFailed(let failed):
            let members = Set(failed)
            for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .failure {
                effects += replace(i, context: &context)
            }
        case .softwarePatched(let group, let batch):
            effects += finishPatchBatch(group, batch, context: &context)
        case .softwareBaked(let group):
            effects += finishBaking(group, context: &context)
        case .softwareReverted(let group, let batch):
            effects += finishRevertBatch(group, batch, context: &context)
        case .scheduledUpdate(let group, let token):
            guard let g = groupIndex(group), cluster.groups[g].scheduleToken == token else { return [] }
            effects += runScheduledUpdate(g, context: &context)
        case .movedNodesDetached:
            return []  // two clusters: the service hands the nodes over (ClusterService.handOffMovedNodes)
        case .movedNodesAttached(let group, let ids):
            effects += finishAttach(group, ids, context: &context)
        case .movedNodesHealthChecked(_, let ids):
            finishMovedHealthChecks(ids)
        case .autoPatchDue(let group, let token):
            guard let g = groupIndex(group) else { return [] }
            effects += startAutoPatch(g, token: token, context: &context)
        case .autoPatchScheduleApplied(let group, let token):
            guard let g = groupIndex(group) else { return [] }
            effects += applyPatchSchedule(g, token: token, context: &context)
        case .autoPatchNodesPatched(let group, let ids, let token):
            guard let g = groupIndex(group) else { return [] }
            effects += finishAutoPatchBatch(g, ids, token: token, context: &context)
        case .autoPatchWindowEnded(let group, let token):
            guard let g = groupIndex(group) else { return [] }
            effects += endIdleWindow(g, token: token, context: &context)
        case .autoPatchDrained(let group, let ids, let token):
            guard let g = groupIndex(group) else { return [] }
            effects += finishDrain(g, ids, token: token, context: &context)
        }
        effects += startDeferredTerminations(context: &context)
        settle()
        return effects
    }

    /// C13, G8, N11: DeleteCluster accepted — `Deleting` at once with counts unchanged, every group `Deleting`, every
    /// node `ShuttingDown`; nodes gone after T_term, the record after T_delete more. The caller cancels the cluster's
    /// other pending timers (the generation moves on).
    public mutating func delete(timing: TimingProfile) -> [LifecycleEffect] {
        recordCluster("delete", .started)
        for group in cluster.groups where group.status != .deleting { recordGroup(group.name, .delete, .started) }
        for node in nodes where node.status != .shuttingDown { recordTermination(node) }
        cluster.status = .deleting
        cluster.generation += 1
        cluster.pendingConfigToken = nil
        cluster.rollback = nil
        for i in cluster.groups.indices {
            cluster.groups[i].status = .deleting
            cluster.groups[i].retryDelay = nil
        }
        for i in nodes.indices { nodes[i].status = .shuttingDown }
        // A group without nodes has nothing to scale down: its scale-down to zero is complete at once.
        for group in cluster.groups where !nodes.contains(where: { $0.groupName == group.name }) {
            recordGroup(group.name, .delete, .completed)
        }
        if nodes.isEmpty { return [.schedule(.teardownComplete, afterSeconds: timing[.delete])] }
        return [.schedule(.nodesTerminated(nodes: nodes.map(\.logicalID)), afterSeconds: timing[.terminate])]
    }

    /// RA4: capacity was added — every group waiting for it runs a retry round now (spec R40), keeping its back-off.
    public mutating func retryWaitingLaunches(context: inout LifecycleContext) -> [LifecycleEffect] {
        guard cluster.status != .deleting else { return [] }
        var effects: [LifecycleEffect] = []
        for g in cluster.groups.indices where cluster.groups[g].retryDelay != nil {
            effects += retryRound(g, context: &context, backOff: false)
        }
        settle()
        return effects
    }

    // MARK: - Slots and launches

    /// N1: `count` new slots of a group, `Pending`; each gets its instance at once if there is capacity (N2).
    mutating func addSlots(
        to group: String, count: Int, context: inout LifecycleContext, zones: [String]? = nil, types: [String]? = nil
    ) {
        guard count > 0, let g = groupIndex(group) else { return }
        let existing = nodes.reduce(0) { $0 + ($1.groupName == group ? 1 : 0) }
        for ordinal in existing..<(existing + count) {
            nodes.append(NodeRecord(
                logicalID: context.allocator.newLogicalID(), instanceID: nil, groupName: group, status: .pending,
                slotCreated: context.now, launchTime: nil, privateIP: nil, zone: nil
            ))
            nodes[nodes.count - 1].allowedZones = zones
            nodes[nodes.count - 1].allowedTypes = types
            if cluster.rollback != nil { cluster.rollback!.newSlots.append(nodes[nodes.count - 1].logicalID) }
            _ = acquireInstance(nodes.count - 1, group: g, ordinal: ordinal, context: &context)
        }
    }

    /// N2: gives a slot an instance — the group's types in priority order, zones round-robin over the group's subnets
    /// starting at the slot's ordinal (spec R116) — when some pool has a free unit.
    /// - Returns: whether the slot got one.
    mutating func acquireInstance(_ i: Int, group g: Int, ordinal: Int, context: inout LifecycleContext) -> Bool {
        let group = cluster.groups[g]
        if group.planKey != nil { return acquireReserved(i, group: g, ordinal: ordinal, context: &context) }  // R223
        let subnets = group.spec.overrideVpcConfig?.subnets ?? cluster.request.vpcConfig?.subnets ?? []
        let candidates: [String?] = subnets.isEmpty ? [nil] : (0..<subnets.count).map { subnets[(ordinal + $0) % subnets.count] }
        for type in group.instanceTypes where nodes[i].allowedTypes?.contains(type) ?? true {
            if context.consumeLaunchFault(type: type, cause: .capacity) { continue }  // RA7: an injected shortfall
            for subnet in candidates {
                let zone = Placement.zone(ofSubnet: subnet, region: cluster.region)
                if let allowed = nodes[i].allowedZones, !allowed.contains(zone) { continue }
                guard context.capacity.take(type, zone: zone) else { continue }
                nodes[i].instanceID = context.allocator.newInstanceID()
                nodes[i].instanceType = type
                nodes[i].zone = zone
                nodes[i].privateIP = context.allocator.newAddress(subnet: subnet)
                nodes[i].subnet = subnet
                nodes[i].launchTime = context.now
                nodes[i].lifeCycleConfig = group.spec.lifeCycleConfig
                nodes[i].imageID = group.desiredImage(region: cluster.region)  // R108: new nodes use DesiredImageId
                recordInstance(nodes[i], "EC2 Instance \(nodes[i].instanceID!) successfully provisioned in Cluster \(c) and IG \(group.name)")
                return true
            }
        }
        return false
    }

    /// Slots of a group still waiting for an instance.
    func waitingSlots(of group: String) -> [Int] {
        nodes.indices.filter { nodes[$0].groupName == group && nodes[$0].instanceID == nil && nodes[$0].status == .pending }
    }

    /// After slots were added to a group: the next batch launches; slots left without capacity either fail a legacy
    /// create or update when the batch ends (C5, C9) or wait for a Continuous retry round (R118).
    mutating func startLaunches(_ group: String, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard let g = groupIndex(group) else { return [] }
        var effects = launchNextBatch(group, timing: context.timing)
        if cluster.groups[g].planKey != nil {  // R224: no open window of its plan: the slots wait, the group counts as done
            cluster.groups[g].awaitingPlanWindow = !waitingSlots(of: group).isEmpty && waitsForPlanWindow(g, context: context)
            if cluster.groups[g].awaitingPlanWindow { return effects }
        }
        if !waitingSlots(of: group).isEmpty {
            if cluster.isContinuous {
                if cluster.groups[g].retryDelay == nil {
                    recordShortfall(g)
                    let delay = context.timing[.retry]
                    cluster.groups[g].retryDelay = delay
                    cluster.groups[g].retryToken = nextToken()
                    effects.append(.schedule(.launchRetry(group: group, token: cluster.groups[g].retryToken), afterSeconds: delay))
                }
            } else {
                effects.append(.schedule(.launchFailed(group: group), afterSeconds: context.timing[.launch]))
            }
        }
        return effects
    }

    /// Schedules the next batch of a group's `Pending` slots that hold an instance, unless a batch is in flight.
    mutating func launchNextBatch(_ group: String, timing: TimingProfile) -> [LifecycleEffect] {
        guard let g = groupIndex(group), !cluster.groups[g].batchInFlight else { return [] }
        var batch: [String] = []
        for node in nodes where node.groupName == group && node.status == .pending && node.instanceID != nil && !node.rebooting {
            batch.append(node.logicalID)
            if batch.count == Self.batchSize { break }
        }
        guard !batch.isEmpty else { return [] }
        cluster.groups[g].batchInFlight = true
        return [.schedule(.batchLaunched(group: group, nodes: batch), afterSeconds: timing[.launch])]
    }

    /// One Continuous retry round (R40, R118): waiting slots try for capacity again; while some still wait, the next
    /// round follows after twice the delay (at most 300 s, or T_retry when that is longer).
    mutating func retryRound(_ g: Int, context: inout LifecycleContext, backOff: Bool = true) -> [LifecycleEffect] {
        let name = cluster.groups[g].name
        let waiting = waitingSlots(of: name)
        for (ordinal, i) in waiting.enumerated() { _ = acquireInstance(i, group: g, ordinal: ordinal, context: &context) }
        var effects = launchNextBatch(name, timing: context.timing)
        if !waitingSlots(of: name).isEmpty && waitsForPlanWindow(g, context: context) {  // R224: wait for the window instead
            cluster.groups[g].awaitingPlanWindow = true
            cluster.groups[g].retryDelay = nil
            return effects
        }
        guard !waitingSlots(of: name).isEmpty else {
            if !backOff, cluster.groups[g].retryDelay != nil {  // a round run early (RA4): its timer has nothing left to do
                effects.append(.cancel(.launchRetry(group: name, token: cluster.groups[g].retryToken)))
            }
            cluster.groups[g].retryDelay = nil
            return effects
        }
        recordShortfall(g)
        let current = cluster.groups[g].retryDelay ?? context.timing[.retry]
        let delay = backOff ? min(current * 2, max(Self.maximumRetryDelay, context.timing[.retry])) : current
        cluster.groups[g].retryDelay = delay
        cluster.groups[g].retryToken = nextToken()
        effects.append(.schedule(.launchRetry(group: name, token: cluster.groups[g].retryToken), afterSeconds: delay))
        return effects
    }

    /// R113, R118: one failed-launch event for a group whose slots still wait for capacity.
    mutating func recordShortfall(_ g: Int) {
        let group = cluster.groups[g]
        guard let first = waitingSlots(of: group.name).first else { return }
        recordFailedLaunch(nodes[first], failure: continuousCapacityMessage(group.instanceTypes.first ?? "unknown"))
    }

    // MARK: - Terminations

    /// N11: slots go `ShuttingDown`; they are removed after T_term.
    mutating func terminate(_ ids: [String], timing: TimingProfile) -> [LifecycleEffect] {
        guard !ids.isEmpty else { return [] }
        let set = Set(ids)
        for i in nodes.indices where set.contains(nodes[i].logicalID) && nodes[i].status != .shuttingDown {
            recordTermination(nodes[i])
            nodes[i].status = .shuttingDown
        }
        return [.schedule(.nodesTerminated(nodes: ids), afterSeconds: timing[.terminate])]
    }

    /// Removes slots; their instances go back to the pools.
    mutating func removeNodes(_ ids: Set<String>, context: inout LifecycleContext) {
        for node in nodes where ids.contains(node.logicalID) { releaseInstance(of: node, context: &context) }
        nodes.removeAll { ids.contains($0.logicalID) }
    }

    /// Scale-down victims of a group (spec R74): slots not yet `Running` (newest first), then nodes in `Failure`, then
    /// nodes picked pseudo-randomly — a flexible group's lowest-priority types first (R76).
    mutating func scaleDownVictims(of group: InstanceGroupRecord, count: Int, context: inout LifecycleContext) -> [String] {
        guard count > 0 else { return [] }
        let live = nodes.filter { $0.groupName == group.name && $0.status != .shuttingDown && $0.status != .detachInProgress }
        var victims = live.filter { !$0.reachedRunning && $0.status != .failure }.reversed().map(\.logicalID)
        victims += live.filter { $0.status == .failure }.map(\.logicalID)
        var rest = live.filter { $0.reachedRunning && $0.status != .failure }
        let priority = group.instanceTypes
        while victims.count < count && !rest.isEmpty {
            let lowest = rest.map { priority.firstIndex(of: $0.instanceType ?? "") ?? priority.count }.max()!
            let candidates = rest.indices.filter { (priority.firstIndex(of: rest[$0].instanceType ?? "") ?? priority.count) == lowest }
            let pick = candidates[context.allocator.randomIndex(below: candidates.count)]
            victims.append(rest.remove(at: pick).logicalID)
        }
        return Array(victims.prefix(count))
    }

    /// Brings a group's live slots to its TargetCount: adds slots or terminates victims (spec R74).
    mutating func reconcileCount(_ g: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        let group = cluster.groups[g]
        let live = liveSlots(of: group)
        if group.targetCount > live {
            addSlots(to: group.name, count: group.targetCount - live, context: &context)
            return startLaunches(group.name, context: &context)
        }
        // Nodes on their way in (R324) cannot be picked: the excess they make is taken when they arrive.
        let victims = scaleDownVictims(of: group, count: live - group.targetCount - group.incomingMoves, context: &context)
        return terminate(victims, timing: context.timing)
    }

    // MARK: - Failures and rollbacks

    /// C5, C9 (R117): a legacy batch could not get capacity. A create rolls back to `Failed`; an update terminates what
    /// it launched and restores the previous configuration after T_rollback.
    mutating func failLegacyLaunch(_ group: String, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard !cluster.isContinuous, [.creating, .updating].contains(cluster.status), !waitingSlots(of: group).isEmpty else { return [] }
        if let first = waitingSlots(of: group).first { recordFailedLaunch(nodes[first], failure: insufficientCapacityMessage) }
        return failLegacy(insufficientCapacityMessage, context: &context)
    }

    /// N5 (R119, R120): nodes whose lifecycle scripts or health checks failed. Legacy: `Failure`, and a create or update
    /// in progress fails naming the first of them. Continuous: the instance goes and the slot waits for a retry round
    /// (N10), the cluster never fails.
    mutating func failLaunches(_ failures: [(index: Int, message: String)], group g: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        for (i, message) in failures {
            nodes[i].status = .failure
            nodes[i].message = message
            recordInstance(nodes[i], "Instance lifecycle script execution for EC2 Instance \(nodes[i].instanceID ?? "") has Failed",
                           level: .error, failure: message)
        }
        guard cluster.isContinuous else {
            let first = failures[0]
            let text = "Instance \(nodes[first.index].instanceID ?? "") failed to provision with the following error: \"\(first.message)\" Note that multiple instances may be impacted."
            return failLegacy(text, context: &context)
        }
        for (i, _) in failures {
            releaseInstance(of: nodes[i], context: &context)
            nodes[i].instanceID = nil
            nodes[i].reservedCapacityARN = nil
            nodes[i].ultraServerID = nil
            nodes[i].ultraServerType = nil
            nodes[i].privateIP = nil
            nodes[i].status = .pending
            nodes[i].message = ""
        }
        return startLaunches(cluster.groups[g].name, context: &context)
    }

    /// C5, C9 with `message` as the cluster's FailureMessage (R117, R119, R120).
    mutating func failLegacy(_ message: String, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard !cluster.isContinuous, [.creating, .updating].contains(cluster.status) else { return [] }
        let wasCreating = cluster.status == .creating
        recordCluster(wasCreating ? "create" : "update", .failed, failure: message)
        cluster.status = .rollingBack
        cluster.failureMessage = message
        cluster.pendingConfigToken = nil
        let doomed: [String]
        if wasCreating {
            doomed = nodes.filter { $0.status != .shuttingDown }.map(\.logicalID)
        } else {
            let created = Set(cluster.rollback?.newSlots ?? [])
            doomed = nodes.filter { created.contains($0.logicalID) && $0.status != .shuttingDown }.map(\.logicalID)
        }
        for g in cluster.groups.indices { cluster.groups[g].retryDelay = nil }
        return terminate(doomed, timing: context.timing) + [.schedule(.rollbackComplete, afterSeconds: context.timing[.rollback])]
    }

    /// C6 / C9 end: a failed create is `Failed` with its groups `Failed` and no nodes (G9); a failed update is back
    /// `InService` with the previous configuration and counts (R78; its scale-downs never started, they wait for its
    /// launches). A group it deleted stays deleted (R75: irreversible).
    mutating func completeRollback(context: inout LifecycleContext) {
        guard cluster.status == .rollingBack else { return }
        guard let snapshot = cluster.rollback else {
            removeNodes(Set(nodes.map(\.logicalID)), context: &context)
            for g in cluster.groups.indices { cluster.groups[g].status = .failed }
            cluster.status = .failed
            return
        }
        removeNodes(Set(snapshot.newSlots), context: &context)
        cluster.request = snapshot.request
        let before = Dictionary(snapshot.groups.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var restored: [InstanceGroupRecord] = []
        for group in cluster.groups {
            guard var previous = before[group.name] else {
                removeNodes(Set(nodes.filter { $0.groupName == group.name }.map(\.logicalID)), context: &context)
                continue  // added by the update: gone
            }
            if group.status == .deleting { restored.append(group); continue }  // deletion is irreversible (R75)
            previous.batchInFlight = group.batchInFlight
            previous.status = .inService
            restored.append(previous)
        }
        cluster.groups = restored
        cluster.rollback = nil
        cluster.pendingConfigToken = nil
        cluster.status = .inService
    }

    /// G5 (R73): the MinInstanceCount timeout — a new group returns to 0/0, an existing one to the TargetCount and
    /// MinCount of its last `InService` state; surplus slots terminate (unhealthy first, then newest) and the group is
    /// `InService` at once.
    mutating func rollBackMinCount(_ g: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        let counts = cluster.groups[g].lastInService ?? .init(targetCount: 0, minCount: 0)
        let name = cluster.groups[g].name
        recordGroup(name, .rollback, .started, failure: "MinInstanceCount was not reached within 3 hours")
        cluster.groups[g].targetCount = counts.targetCount
        cluster.groups[g].spec.instanceCount = counts.targetCount
        cluster.groups[g].spec.minInstanceCount = counts.minCount
        cluster.groups[g].status = .inService
        cluster.groups[g].lastInService = counts
        cluster.groups[g].operation = nil
        recordGroup(name, .rollback, .completed)
        let live = nodes.filter { $0.groupName == name && $0.status != .shuttingDown }
        let surplus = live.count - counts.targetCount
        guard surplus > 0 else { return [] }
        let unhealthy = Array(live.filter { !$0.isCurrent }.reversed())
        let healthy = Array(live.filter(\.isCurrent).reversed())
        return terminate(Array((unhealthy + healthy).prefix(surplus).map(\.logicalID)), timing: context.timing)
    }

    // MARK: - Settling

    /// The status a group settles in (G6): `Degraded` while it holds a node in `Failure` that will not be recovered
    /// (NodeRecovery not `Automatic`), else `InService`.
    func settledStatus(of group: String) -> InstanceGroupStatus {
        let unrecovered = (cluster.request.nodeRecovery ?? .automatic) != .automatic
        return unrecovered && nodes.contains(where: { $0.groupName == group && $0.status == .failure }) ? .degraded : .inService
    }

    /// R342: an `AccountingDatabase` with its defaults filled in: `Port` 3306, `Name` `slurm_acct_db_<cluster-id>`.
    public static func withDefaults(_ database: ClusterAccountingDatabase, clusterID: String) -> ClusterAccountingDatabase {
        var filled = database
        filled.port = database.port ?? 3306
        filled.name = database.name ?? "slurm_acct_db_\(clusterID)"
        return filled
    }

    /// C2/C3/C4 at the end of create: applied settings take effect.
    mutating func leaveCreating() {
        cluster.status = .inService
        recordCluster("create", .completed)
        cluster.appliedTieredStorageConfig = cluster.request.tieredStorageConfig  // R48
        cluster.appliedAccountingDatabase = cluster.request.orchestrator?.slurm?.accountingDatabase  // R342
        cluster.appliedSharedEnvironment = cluster.request.restrictedInstanceGroupsConfig?.sharedEnvironmentConfig  // R341
        if cluster.autoScalingStatus == .creating { cluster.autoScalingStatus = .inService }
    }

    /// G2, G3, G4 and C2, C4, C8: groups and the cluster whose work is done become `InService`.
    mutating func settle() {
        let continuous = cluster.isContinuous
        for i in cluster.groups.indices {
            let group = cluster.groups[i]
            let current = currentCount(of: group.name)
            let minimum = group.spec.minInstanceCount ?? 0
            // R224: slots waiting for their plan's window do not hold the group up.
            let busy = nodes.contains {
                $0.groupName == group.name && [.pending, .deepHealthCheckInProgress, .shuttingDown].contains($0.status)
                    && !(group.awaitingPlanWindow && $0.instanceID == nil && $0.status == .pending)
            }
            // A legacy group is complete when its slots are all there and none is launching or leaving; a node that
            // failed afterwards (R121) does not hold the operation up — the group is then Degraded (G6).
            let slots = nodes.reduce(0) { $0 + ($1.groupName == group.name && $1.status != .shuttingDown ? 1 : 0) }
            let legacyReached = slots == group.targetCount && !busy && cluster.pendingConfigToken == nil
            switch group.status {
            case .creating:
                let reached = continuous ? cluster.status != .creating && current >= minimum : legacyReached
                if reached { cluster.groups[i].status = settledStatus(of: group.name) }
            case .updating:
                let reached = continuous ? current >= minimum : legacyReached
                if reached { cluster.groups[i].status = settledStatus(of: group.name) }
            case .degraded:  // G6: until no node of the group is in Failure
                if !nodes.contains(where: { $0.groupName == group.name && $0.status == .failure }) { cluster.groups[i].status = .inService }
            default:
                break
            }
            if cluster.groups[i].status == .inService {
                cluster.groups[i].lastInService = .init(targetCount: group.targetCount, minCount: group.spec.minInstanceCount)
                if let operation = cluster.groups[i].operation, !(continuous && isScaling(cluster.groups[i])) {
                    cluster.groups[i].operation = nil
                    recordGroup(group.name, operation, .completed)
                }
            }
        }
        switch cluster.status {
        case .creating:
            if continuous {
                // C4 (Continuous Slurm): the controller group, and the login group if any, have a Running node.
                let needed = cluster.groups.filter { [.controller, .login].contains($0.spec.slurmConfig?.nodeType) }
                if needed.allSatisfy({ currentCount(of: $0.name) >= 1 }) {
                    leaveCreating()
                    settle()
                }
            } else if cluster.groups.allSatisfy({ [.inService, .degraded].contains($0.status) }) {
                leaveCreating()  // C2
            }
        case .updating:
            guard cluster.pendingConfigToken == nil else { return }
            if continuous || cluster.groups.allSatisfy({ [.inService, .degraded].contains($0.status) }) {
                cluster.status = .inService  // C8
                cluster.rollback = nil
                recordCluster("update", .completed)
            }
        default:
            break
        }
    }
}
