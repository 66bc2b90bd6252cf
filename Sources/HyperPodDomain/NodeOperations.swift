import SageMakerShapes

/// Per-node outcome of BatchDelete/BatchReboot/BatchReplaceClusterNodes (spec R101–R103).
public struct NodeOperationResult: Sendable, Equatable {
    /// A node the operation refused, by the id it was named with.
    public struct Failure: Sendable, Equatable {
        public init(id: String, code: String, message: String) {
            self.id = id
            self.code = code
            self.message = message
        }

        public var id: String
        /// The model's error code (`NodeIdNotFound`, `InvalidInstanceStatus`, …).
        public var code: String
        public var message: String
    }

    /// Accepted `NodeIds`, in first-occurrence order (R98).
    public var succeeded: [String] = []
    /// Accepted `NodeLogicalIds`.
    public var succeededLogical: [String] = []
    public var failed: [Failure] = []
    public var failedLogical: [Failure] = []

    public init() {}
}

/// One entry of BatchAddClusterNodes as planned (spec R100): accepted, or refused with its code and message.
public struct NodeAdditionPlan: Sendable, Equatable {
    public var entry: AddClusterNodeSpecification
    /// nil: accepted.
    public var errorCode: BatchAddClusterNodesErrorCode?
    public var message: String?
}

/// The node operations of spec §10 and the node fault of R121, on a cluster value.
extension ClusterLifecycle {
    /// The three per-node batch operations.
    public enum NodeOperation: Sendable {
        case delete, reboot, replace

        /// R97's verb.
        var verb: String {
            switch self {
            case .delete: "scaled down"
            case .reboot: "rebooted"
            case .replace: "repaired"
            }
        }

        var infinitive: String {
            switch self {
            case .delete: "deleted"
            case .reboot: "rebooted"
            case .replace: "replaced"
            }
        }
    }

    /// R97: legacy clusters `InService` only, Continuous `InService` or `Updating`; ValidationException otherwise.
    public func checkNodeOperationState(verb: String) throws(UpdateRejection) {
        let allowed: [ClusterStatus] = cluster.isContinuous ? [.inService, .updating] : [.inService]
        guard allowed.contains(cluster.status) else {
            throw .validation("Cluster \(cluster.name) is in \(cluster.status.rawValue) state and cannot be \(verb).")
        }
    }

    /// R98: `NodeLogicalIds` only on Continuous clusters; at least one id.
    func checkIdLists(_ nodeIds: [String]?, _ logicalIds: [String]?) throws(UpdateRejection) {
        if logicalIds != nil && !cluster.isContinuous {
            throw .validation("NodeLogicalIds are only supported for clusters with NodeProvisioningMode set to Continuous.")
        }
        if (nodeIds ?? []).isEmpty && (logicalIds ?? []).isEmpty {
            throw .validation("At least one of NodeIds or NodeLogicalIds must be specified.")
        }
    }

    /// Ids once each, in first-occurrence order (R98).
    public static func unique(_ ids: [String]?) -> [String] {
        var seen: Set<String> = []
        return (ids ?? []).filter { seen.insert($0).inserted }
    }

    /// BatchDelete/BatchReboot/BatchReplaceClusterNodes (spec R97, R98, R101–R103).
    /// - Throws: `UpdateRejection.validation` for the state, the id lists, the limits of R101, and (delete only) when
    ///   every node fails (R102: `None of the specified nodes could be deleted: <id> (<Code>), …`).
    public mutating func batch(
        _ operation: NodeOperation, nodeIds: [String]?, logicalIds: [String]?, context: inout LifecycleContext
    ) throws(UpdateRejection) -> (NodeOperationResult, [LifecycleEffect]) {
        try checkNodeOperationState(verb: operation.verb)
        try checkIdLists(nodeIds, logicalIds)
        if operation == .delete {
            if logicalIds != nil && (nodeIds ?? []).count + (logicalIds ?? []).count > 50 {
                throw .validation("A maximum of 50 NodeIds and NodeLogicalIds combined can be specified.")
            }
            if (nodeIds ?? []).count > 99 { throw .validation("A maximum of 99 NodeIds can be specified in a single request.") }
        }
        var result = NodeOperationResult()
        var accepted: [Int] = []
        for (logical, ids) in [(false, Self.unique(nodeIds)), (true, Self.unique(logicalIds))] {
            for id in ids {
                let index = nodes.firstIndex { logical ? $0.logicalID == id : $0.instanceID == id }
                if let failure = refusal(operation, node: index, id: id) {
                    if logical { result.failedLogical.append(failure) } else { result.failed.append(failure) }
                } else if !accepted.contains(index!) {
                    accepted.append(index!)
                    if logical { result.succeededLogical.append(id) } else { result.succeeded.append(id) }
                }
            }
        }
        if operation == .delete && accepted.isEmpty {
            let all = (result.failed + result.failedLogical).map { "\($0.id) (\($0.code))" }
            throw .validation("None of the specified nodes could be deleted: \(all.joined(separator: ", "))")
        }
        var effects: [LifecycleEffect] = []
        switch operation {
        case .delete:
            var ids: [String] = []
            for i in accepted {
                ids.append(nodes[i].logicalID)
                if let g = groupIndex(nodes[i].groupName) {
                    cluster.groups[g].targetCount = max(0, cluster.groups[g].targetCount - 1)  // R101: TargetCount drops
                    cluster.groups[g].spec.instanceCount = cluster.groups[g].targetCount
                    // MinInstanceCount stays at most InstanceCount (R62), so a DescribeCluster round trip stays valid (R72).
                    if let minimum = cluster.groups[g].spec.minInstanceCount, minimum > cluster.groups[g].targetCount {
                        cluster.groups[g].spec.minInstanceCount = cluster.groups[g].targetCount
                    }
                }
            }
            effects = terminate(ids, timing: context.timing)
        case .reboot:
            for i in accepted {
                recordInstance(nodes[i], "Reboot of EC2 Instance \(nodes[i].instanceID ?? "") is currently in progress on Cluster \(c) and IG \(nodes[i].groupName)")
                nodes[i].status = .pending  // N6
                nodes[i].rebooting = true
            }
            effects = [.schedule(.rebootComplete(nodes: accepted.map { nodes[$0].logicalID }), afterSeconds: context.timing[.reboot])]
        case .replace:
            for i in accepted { effects += replace(i, context: &context) }
        }
        settle()
        return (result, effects)
    }

    /// Why a node cannot take `operation`; nil when it can.
    func refusal(_ operation: NodeOperation, node index: Int?, id: String) -> NodeOperationResult.Failure? {
        guard let index else {
            let code = operation == .delete ? "NodeIdNotFound" : "InstanceIdNotFound"
            return .init(id: id, code: code, message: "Node \(id) not found in cluster \(cluster.name).")
        }
        let node = nodes[index]
        let group = cluster.groups.first { $0.name == node.groupName }
        switch operation {
        case .delete:
            if [.shuttingDown, .systemUpdating, .detachInProgress, .attachInProgress].contains(node.status) {
                return .init(id: id, code: "InvalidNodeStatus", message: "Node \(id) is in \(node.status.rawValue) status and cannot be deleted.")
            }
            if let group, cluster.isContinuous, [.creating, .updating].contains(group.status), (group.spec.minInstanceCount ?? 0) > 0 {
                return .init(id: id, code: "InvalidNodeStatus", message: "Node \(id) is in \(group.status.rawValue) status and cannot be deleted.")
            }
            if node.groupName == cluster.slurmControllerGroup {
                return .init(id: id, code: "NodeIdInUse", message: "Node \(id) is a Slurm controller node and cannot be deleted.")
            }
        case .reboot, .replace:
            if ![.running, .failure].contains(node.status) {
                return .init(id: id, code: "InvalidInstanceStatus",
                             message: "Node \(id) is in \(node.status.rawValue) status and cannot be \(operation.infinitive).")
            }
            if operation == .replace && node.groupName == cluster.slurmControllerGroup {
                return .init(id: id, code: "InstanceIdInUse", message: "Node \(id) is a Slurm controller node and cannot be replaced.")
            }
        }
        return nil
    }

    /// N10 (R103, R121): the slot's instance goes and a new one takes its place — new InstanceId, IP and LaunchTime,
    /// same NodeLogicalId, the group's current LifeCycleConfig — `Pending` until its launch batch ends.
    mutating func replace(_ i: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        let old = nodes[i]
        if old.instanceID != nil {
            recordTermination(old)
            releaseInstance(of: old, context: &context)  // R229: a plan-backed node frees its unit
        }
        nodes[i].instanceID = nil
        nodes[i].reservedCapacityARN = nil
        nodes[i].ultraServerID = nil
        nodes[i].ultraServerType = nil
        nodes[i].privateIP = nil
        nodes[i].status = .pending
        nodes[i].message = ""
        nodes[i].reachedRunning = false
        nodes[i].rebooting = false
        guard let g = groupIndex(old.groupName) else { return [] }
        if acquireInstance(i, group: g, ordinal: i, context: &context) {
            recordInstance(nodes[i], "Instance \(nodes[i].instanceID!) is starting as part of instance replacement in Cluster \(c) and IG \(old.groupName)")
        }
        return startLaunches(old.groupName, context: &context)
    }

    // MARK: BatchAddClusterNodes (R100)

    /// Checks BatchAddClusterNodes (R97, R100) and plans each entry; nothing changes.
    /// - Throws: `UpdateRejection.validation` for the state, a legacy cluster and more than 50 nodes.
    public func planBatchAdd(_ entries: [AddClusterNodeSpecification]) throws(UpdateRejection) -> [NodeAdditionPlan] {
        try checkNodeOperationState(verb: "scaled up")
        guard cluster.isContinuous else {
            throw .validation("BatchAddClusterNodes is only supported for clusters with NodeProvisioningMode set to Continuous.")
        }
        guard entries.reduce(0, { $0 + $1.incrementTargetCountBy }) <= 50 else {
            throw .validation("A maximum of 50 nodes can be added in a single request.")
        }
        return entries.map { entry in
            let name = entry.instanceGroupName
            guard let group = cluster.groups.first(where: { $0.name == name }) else {
                return NodeAdditionPlan(entry: entry, errorCode: .instanceGroupNotFound, message: "Instance group \(name) not found in cluster \(cluster.name).")
            }
            let waitingForMinimum = [.creating, .updating].contains(group.status) && (group.spec.minInstanceCount ?? 0) > 0
            if group.status == .deleting || waitingForMinimum {
                return NodeAdditionPlan(entry: entry, errorCode: .invalidInstanceGroupStatus,
                                        message: "Instance group \(name) is in \(group.status.rawValue) status.")
            }
            let zones = Set(subnets(of: group).map { Placement.zone(ofSubnet: $0, region: cluster.region) })
            if let wanted = entry.availabilityZones, let outside = wanted.first(where: { !zones.contains($0) }) {
                return NodeAdditionPlan(entry: entry, errorCode: .incompatibleAvailabilityZones,
                                        message: "Availability zone \(outside) is not in the subnets of instance group \(name).")
            }
            if let wanted = entry.instanceTypes, let outside = wanted.first(where: { !group.instanceTypes.contains($0.rawValue) }) {
                return NodeAdditionPlan(entry: entry, errorCode: .incompatibleInstanceTypes,
                                        message: "Instance type \(outside.rawValue) is not an instance type of instance group \(name).")
            }
            return NodeAdditionPlan(entry: entry)
        }
    }

    /// Applies the accepted entries: TargetCount += n and n new `Pending` slots each (R100).
    /// - Returns: the new slots' NodeLogicalIds per entry (empty for refused ones), and the timers.
    public mutating func applyBatchAdd(_ plans: [NodeAdditionPlan], context: inout LifecycleContext) -> ([[String]], [LifecycleEffect]) {
        var created: [[String]] = []
        var effects: [LifecycleEffect] = []
        for plan in plans {
            guard plan.errorCode == nil, let g = groupIndex(plan.entry.instanceGroupName) else { created.append([]); continue }
            let n = plan.entry.incrementTargetCountBy
            cluster.groups[g].targetCount += n
            cluster.groups[g].spec.instanceCount = cluster.groups[g].targetCount
            if cluster.groups[g].operation == nil { recordGroup(cluster.groups[g].name, .scaling, .started) }
            cluster.groups[g].operation = .scaling
            let before = nodes.count
            addSlots(to: cluster.groups[g].name, count: n, context: &context, zones: plan.entry.availabilityZones,
                     types: plan.entry.instanceTypes?.map(\.rawValue))
            created.append(nodes[before...].map(\.logicalID))
            effects += startLaunches(cluster.groups[g].name, context: &context)
        }
        settle()
        return (created, effects)
    }

    func subnets(of group: InstanceGroupRecord) -> [String] {
        group.spec.overrideVpcConfig?.subnets ?? cluster.request.vpcConfig?.subnets ?? []
    }

    // MARK: Node faults (R121)

    /// RA7 `node-failure` on a `Running` node (N9): `Failure` with `Node <id> failed health checks: <reason>`. With
    /// NodeRecovery `Automatic` the node is replaced after T_reboot (N10); otherwise its group is `Degraded` (G6).
    /// - Returns: nil when no `Running` node has that InstanceId or NodeLogicalId.
    public mutating func failNode(_ id: String, reason: String, timing: TimingProfile) -> [LifecycleEffect]? {
        guard let i = nodes.firstIndex(where: { ($0.instanceID == id || $0.logicalID == id) && $0.status == .running }) else { return nil }
        nodes[i].status = .failure
        nodes[i].message = "Node \(nodes[i].instanceID ?? id) failed health checks: \(reason)"
        recordInstance(nodes[i], nodes[i].message, level: .error, failure: nodes[i].message)
        if (cluster.request.nodeRecovery ?? .automatic) == .automatic {
            return [.schedule(.replaceFailed(nodes: [nodes[i].logicalID]), afterSeconds: timing[.reboot])]
        }
        if let g = groupIndex(nodes[i].groupName), cluster.groups[g].status == .inService { cluster.groups[g].status = .degraded }
        return []
    }
}
