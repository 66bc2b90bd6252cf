import SageMakerShapes

/// Where a node in `DetachInProgress` is going (spec R324): kept on the node in its source cluster until the hand-off.
public struct NodeMoveTarget: Sendable, Equatable {
    public var clusterARN: String
    public var clusterName: String
    public var instanceGroupName: String

    public init(clusterARN: String, clusterName: String, instanceGroupName: String) {
        self.clusterARN = clusterARN
        self.clusterName = clusterName
        self.instanceGroupName = instanceGroupName
    }
}

/// The nodes a MoveClusterNodes request names: exactly one of the three selectors (spec R320).
public struct NodeMoveSelection: Sendable, Equatable {
    public var nodeIds: [String]?
    public var nodeLogicalIds: [String]?
    public var instanceCount: Int?

    public init(nodeIds: [String]?, nodeLogicalIds: [String]?, instanceCount: Int?) {
        self.nodeIds = nodeIds
        self.nodeLogicalIds = nodeLogicalIds
        self.instanceCount = instanceCount
    }
}

/// A MoveClusterNodes request as checked (spec R320–R323): the per-node outcome in the model's lists and the logical ids
/// of the accepted nodes, in the order they were named (or chosen).
public struct NodeMovePlan: Sendable, Equatable {
    /// `Successful`/`SuccessfulNodeLogicalIds` and `Failed`/`FailedNodeLogicalIds`, with the codes of
    /// `MoveClusterNodesErrorCode`.
    public var result = NodeOperationResult()
    /// The accepted nodes' NodeLogicalIds.
    public var accepted: [String] = []

    public init() {}
}

/// What a node's volume attachments say about a move (spec R322): nodes (by NodeLogicalId) with an attachment
/// `attaching`/`detaching`, and nodes with an attached EBS volume.
public struct NodeMoveAttachments: Sendable, Equatable {
    public var busy: Set<String>
    public var withVolumes: Set<String>

    public init(busy: Set<String> = [], withVolumes: Set<String> = []) {
        self.busy = busy
        self.withVolumes = withVolumes
    }
}

/// The checks of MoveClusterNodes (spec §19.3, R320–R323) and the moves themselves (R324–R326), on cluster values.
public enum NodeMoves {
    /// R320 (from "each EKS and Continuous" on, the caller having resolved both clusters), R321, R322 and R323, in that
    /// order. Nothing changes.
    /// - Parameters:
    ///   - source, target: the two clusters; the same value when the move stays in one cluster.
    ///   - attachments: the source nodes' volume attachments (R322).
    /// - Returns: the plan; `accepted` is never empty.
    /// - Throws: `UpdateRejection.validation` with R320's, R321's or R323's message.
    public static func plan(
        source: ClusterLifecycle, sourceGroup: String, target: ClusterLifecycle, targetGroup: String,
        selection: NodeMoveSelection, attachments: NodeMoveAttachments
    ) throws(UpdateRejection) -> NodeMovePlan {
        for side in [source, target] where !(side.cluster.isEKS && side.cluster.isContinuous) {
            throw .validation("MoveClusterNodes is only supported for clusters with an Eks orchestrator and NodeProvisioningMode set to Continuous.")
        }
        for side in [source, target] where side.cluster.status != .inService {
            throw .validation("Cluster \(side.cluster.name) is in \(side.cluster.status.rawValue) state and cannot move nodes.")
        }
        func group(_ name: String, of side: ClusterLifecycle) throws(UpdateRejection) -> InstanceGroupRecord {
            guard let group = side.cluster.groups.first(where: { $0.name == name && $0.restrictedSpec == nil }) else {
                throw .validation("Instance group \(name) not found in cluster \(side.cluster.name).")
            }
            return group
        }
        let from = try group(sourceGroup, of: source), to = try group(targetGroup, of: target)
        if source.cluster.arn == target.cluster.arn && sourceGroup == targetGroup {
            throw .validation("TargetInstanceGroupName must differ from SourceInstanceGroupName when both are in the same cluster.")
        }
        let selectors = [selection.nodeIds != nil, selection.nodeLogicalIds != nil, selection.instanceCount != nil]
        guard selectors.filter({ $0 }).count == 1 else {
            throw .validation("Specify exactly one of NodeIds, NodeLogicalIds, or InstanceCount.")
        }
        // R321: group compatibility, then the target group's state.
        func incompatible(_ field: String) -> UpdateRejection {
            .validation("Instance groups \(sourceGroup) and \(targetGroup) are not compatible: \(field) differs.")
        }
        if (from.spec.threadsPerCore ?? 2) != (to.spec.threadsPerCore ?? 2) { throw incompatible("ThreadsPerCore") }
        if (from.spec.capacityRequirements?.spot != nil) != (to.spec.capacityRequirements?.spot != nil) { throw incompatible("CapacityType") }
        let waitingForMinimum = [.creating, .updating].contains(to.status) && (to.spec.minInstanceCount ?? 0) > 0
        if to.status == .deleting || waitingForMinimum {
            throw .validation("Instance group \(targetGroup) is in \(to.status.rawValue) status.")
        }
        // R322: each named node, first failing check wins; duplicates once (R98).
        let targetSubnets = target.subnets(of: to)
        func refusal(_ node: NodeRecord?, id: String) -> NodeOperationResult.Failure? {
            guard let node, node.groupName == sourceGroup else {
                return .init(id: id, code: MoveClusterNodesErrorCode.nodeIdNotFound.rawValue,
                             message: "Node \(id) not found in instance group \(sourceGroup) of cluster \(source.cluster.name).")
            }
            if attachments.busy.contains(node.logicalID) {
                return .init(id: id, code: MoveClusterNodesErrorCode.nodeIdInUse.rawValue, message: "Another operation is in progress for node \(id).")
            }
            if node.status != .running {
                return .init(id: id, code: MoveClusterNodesErrorCode.invalidNodeStatus.rawValue,
                             message: "Node \(id) is in \(node.status.rawValue) status and cannot be moved.")
            }
            if let subnet = source.subnet(of: node), !targetSubnets.isEmpty, !targetSubnets.contains(subnet) {
                return .init(id: id, code: MoveClusterNodesErrorCode.invalidNodeStatus.rawValue,
                             message: "Node \(id) is in subnet \(subnet), which is not a subnet of instance group \(targetGroup).")
            }
            if attachments.withVolumes.contains(node.logicalID) {
                return .init(id: id, code: MoveClusterNodesErrorCode.invalidNodeStatus.rawValue,
                             message: "Node \(id) has attached EBS volumes; detach them before moving the node.")
            }
            if let type = node.instanceType, !to.instanceTypes.contains(type) {
                return .init(id: id, code: MoveClusterNodesErrorCode.nodeInstanceTypeMismatch.rawValue,
                             message: "Instance group \(targetGroup) does not support instance type \(type) of node \(id).")
            }
            return nil
        }
        var plan = NodeMovePlan()
        if let count = selection.instanceCount {
            // R323: newest LaunchTime first, ties by InstanceId; all or nothing.
            let eligible = source.nodes.filter { $0.groupName == sourceGroup && refusal($0, id: $0.instanceID ?? $0.logicalID) == nil }
                .sorted { a, b in
                    let (x, y) = ((a.launchTime ?? a.slotCreated).milliseconds, (b.launchTime ?? b.slotCreated).milliseconds)
                    return x != y ? x > y : (a.instanceID ?? "") < (b.instanceID ?? "")
                }
            guard eligible.count >= count else {
                throw .validation("Only \(eligible.count) nodes of instance group \(sourceGroup) are eligible to move; \(count) were requested.")
            }
            for node in eligible.prefix(count) {
                plan.accepted.append(node.logicalID)
                plan.result.succeeded.append(node.instanceID ?? node.logicalID)
            }
        } else {
            let logical = selection.nodeLogicalIds != nil
            for id in ClusterLifecycle.unique(logical ? selection.nodeLogicalIds : selection.nodeIds) {
                let node = source.nodes.first { logical ? $0.logicalID == id : $0.instanceID == id }
                if let failure = refusal(node, id: id) {
                    if logical { plan.result.failedLogical.append(failure) } else { plan.result.failed.append(failure) }
                } else if let node, !plan.accepted.contains(node.logicalID) {
                    plan.accepted.append(node.logicalID)
                    if logical { plan.result.succeededLogical.append(id) } else { plan.result.succeeded.append(id) }
                }
            }
            if plan.accepted.isEmpty {
                let all = (plan.result.failed + plan.result.failedLogical).map { "\($0.id) (\($0.code))" }
                throw .validation("None of the specified nodes could be moved: \(all.joined(separator: ", "))")
            }
        }
        if let minimum = from.spec.minInstanceCount, from.targetCount - plan.accepted.count < minimum {
            throw .validation("Moving \(plan.accepted.count) nodes would reduce instance group \(sourceGroup) below its MinInstanceCount (\(minimum)).")
        }
        return plan
    }
}

extension ClusterLifecycle {
    /// The subnet a node's instance was launched into: as recorded at launch, else (a node launched before the subnet
    /// was recorded) the first subnet of its group in the node's zone.
    public func subnet(of node: NodeRecord) -> String? {
        if let subnet = node.subnet { return subnet }
        guard let group = cluster.groups.first(where: { $0.name == node.groupName }) else { return nil }
        return subnets(of: group).first { Placement.zone(ofSubnet: $0, region: cluster.region) == node.zone }
    }

    /// Slots of a group that count toward its TargetCount (spec R74, R324): not leaving (`ShuttingDown`, or
    /// `DetachInProgress` on the way to another group), plus the nodes on their way in.
    func liveSlots(of group: InstanceGroupRecord) -> Int {
        nodes.reduce(0) { $0 + ($1.groupName == group.name && $1.status != .shuttingDown && $1.status != .detachInProgress ? 1 : 0) }
            + group.incomingMoves
    }

    /// R324 in the source, at acceptance: the group's TargetCount (and stored InstanceCount) drops by the accepted
    /// nodes, which go `DetachInProgress` (still counted in CurrentCount) with R325's event; they leave after T_term.
    /// - Returns: the hand-off timer.
    public mutating func beginMoveOut(
        _ accepted: [String], from sourceGroup: String, to destination: NodeMoveTarget, timing: TimingProfile
    ) -> [LifecycleEffect] {
        guard let g = groupIndex(sourceGroup) else { return [] }
        cluster.groups[g].targetCount -= accepted.count
        cluster.groups[g].spec.instanceCount = cluster.groups[g].targetCount
        let set = Set(accepted)
        for i in nodes.indices where set.contains(nodes[i].logicalID) {
            nodes[i].status = .detachInProgress
            nodes[i].moveTarget = destination
            recordInstance(nodes[i], "Instance \(nodes[i].instanceID ?? nodes[i].logicalID) is moving from IG \(sourceGroup) in Cluster \(c) "
                           + "to IG \(destination.instanceGroupName) in Cluster \(destination.clusterName)")
        }
        settle()
        return [.schedule(.movedNodesDetached(nodes: accepted), afterSeconds: timing[.terminate])]
    }

    /// R324 in the target, at acceptance: the group's TargetCount (and stored InstanceCount) grows by `count`, nodes
    /// that are on their way (no slot is added for them).
    public mutating func expectMoveIn(_ count: Int, to targetGroup: String) {
        guard let g = groupIndex(targetGroup) else { return }
        cluster.groups[g].targetCount += count
        cluster.groups[g].spec.instanceCount = cluster.groups[g].targetCount
        cluster.groups[g].incomingMoves += count
        settle()
    }

    /// R324 in the source, T_term after acceptance: the nodes still `DetachInProgress` leave (CurrentCount drops,
    /// DescribeClusterNode there no longer finds them). Their instances stay held: they go to the target.
    /// - Returns: the nodes as they left, grouped by where they go.
    public mutating func handOff(_ ids: [String]) -> [NodeRecord] {
        let set = Set(ids)
        let leaving = nodes.filter { set.contains($0.logicalID) && $0.status == .detachInProgress && $0.moveTarget != nil }
        let gone = Set(leaving.map(\.logicalID))
        nodes.removeAll { gone.contains($0.logicalID) }
        settle()
        return leaving
    }

    /// A hand-off that found no target to go to (the target cluster or group was deleted meanwhile; emulator decision,
    /// R326): the nodes stay in the source, `Running` again, and their group's TargetCount grows back.
    public mutating func cancelMoveOut(_ ids: [String]) {
        let set = Set(ids)
        for i in nodes.indices where set.contains(nodes[i].logicalID) && nodes[i].status == .detachInProgress {
            let target = nodes[i].moveTarget
            nodes[i].status = .running
            nodes[i].moveTarget = nil
            if let g = groupIndex(nodes[i].groupName) {
                cluster.groups[g].targetCount += 1
                cluster.groups[g].spec.instanceCount = cluster.groups[g].targetCount
            }
            recordInstance(nodes[i], "Instance move \(nodes[i].instanceID ?? nodes[i].logicalID) in Cluster \(target?.clusterName ?? c) "
                           + "and IG \(target?.instanceGroupName ?? nodes[i].groupName) failed", level: .warn)
        }
        settle()
    }

    /// R324 in the target, at the hand-off: the nodes join `targetGroup` as `AttachInProgress` with the same InstanceId,
    /// NodeLogicalId, address, placement, type and LaunchTime; they take the group's LifeCycleConfig and desired image
    /// and run its scripts for T_launch. R325's "moved into" event for each.
    /// - Returns: the timer that ends the attach.
    public mutating func receiveMovedNodes(_ arriving: [NodeRecord], into targetGroup: String, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard let g = groupIndex(targetGroup), cluster.groups[g].status != .deleting else { return [] }
        cluster.groups[g].incomingMoves = max(0, cluster.groups[g].incomingMoves - arriving.count)
        let group = cluster.groups[g]
        for var node in arriving {
            node.groupName = targetGroup
            node.status = .attachInProgress
            node.message = ""
            node.reachedRunning = false  // counted in the target's CurrentCount once Running (R324)
            node.moveTarget = nil
            node.rebooting = false
            node.allowedZones = nil
            node.allowedTypes = nil
            node.lifeCycleConfig = group.spec.lifeCycleConfig
            node.imageID = group.desiredImage(region: cluster.region)
            nodes.append(node)
            recordInstance(node, "EC2 Instance \(node.instanceID ?? node.logicalID) moved into Cluster \(c) and IG \(targetGroup)")
        }
        var effects: [LifecycleEffect] = [.schedule(.movedNodesAttached(group: targetGroup, nodes: arriving.map(\.logicalID)),
                                                    afterSeconds: context.timing[.launch])]
        // The group was scaled down while the nodes were on their way (R74 left them for now): the excess goes, the
        // arriving nodes first (they are not Running yet).
        if liveSlots(of: cluster.groups[g]) > cluster.groups[g].targetCount { effects += reconcileCount(g, context: &context) }
        settle()
        return effects
    }

    /// The source of a move was deleted before the hand-off (R326): `count` nodes will not arrive, so the target
    /// group's TargetCount shrinks back by them.
    public mutating func cancelMoveIn(_ count: Int, to targetGroup: String, from source: String) {
        guard let g = groupIndex(targetGroup), cluster.groups[g].status != .deleting, count > 0 else { return }
        let withdrawn = min(count, cluster.groups[g].incomingMoves)
        cluster.groups[g].incomingMoves -= withdrawn
        // Never below the nodes the group has (an UpdateCluster may have lowered the count while they were coming).
        let present = nodes.reduce(0) {
            $0 + ($1.groupName == targetGroup && $1.status != .shuttingDown && $1.status != .detachInProgress ? 1 : 0)
        }
        cluster.groups[g].targetCount = max(present, cluster.groups[g].targetCount - withdrawn)
        cluster.groups[g].spec.instanceCount = cluster.groups[g].targetCount
        newEvents.append(ClusterEventRecord(
            resourceType: .instanceGroup, level: .warn,
            description: "Instance move of \(withdrawn) nodes from Cluster \(source) into Cluster \(c) and IG \(targetGroup) failed",
            instanceGroupName: targetGroup, metadata: nil))
        settle()
    }

    /// R324, T_launch after the hand-off: the moved nodes' scripts ran. A script fault (§14) puts a node in `Failure`,
    /// handled by R119; otherwise the node is `Running` (after N4's deep health checks when the group has
    /// OnStartDeepHealthChecks), with R325's completion event.
    mutating func finishAttach(_ group: String, _ ids: [String], context: inout LifecycleContext) -> [LifecycleEffect] {
        guard let g = groupIndex(group) else { return [] }
        let members = Set(ids)
        let deepHealthChecks = !(cluster.groups[g].spec.onStartDeepHealthChecks ?? []).isEmpty
        var failures: [(index: Int, message: String)] = []
        var checking: [String] = []
        for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .attachInProgress {
            if let error = context.launchError(for: nodes[i]) {
                recordInstance(nodes[i], "Instance move \(nodes[i].instanceID ?? "") in Cluster \(c) and IG \(group) failed", level: .error,
                               failure: error)
                failures.append((i, error))
                continue
            }
            recordInstance(nodes[i], "Instance lifecycle script execution for EC2 Instance \(nodes[i].instanceID ?? "") has Succeeded")
            if deepHealthChecks {
                nodes[i].status = .deepHealthCheckInProgress
                checking.append(nodes[i].logicalID)
            } else {
                completeAttach(i)
            }
        }
        var effects: [LifecycleEffect] = []
        if !failures.isEmpty { effects += failLaunches(failures, group: g, context: &context) }
        if !checking.isEmpty {
            effects.append(.schedule(.movedNodesHealthChecked(group: group, nodes: checking), afterSeconds: context.timing[.deepHealthCheck]))
        }
        return effects
    }

    /// N4's end for moved nodes: `Running`, with R325's completion event.
    mutating func finishMovedHealthChecks(_ ids: [String]) {
        let members = Set(ids)
        for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .deepHealthCheckInProgress {
            completeAttach(i)
        }
    }

    private mutating func completeAttach(_ i: Int) {
        nodes[i].status = .running
        nodes[i].reachedRunning = true
        recordInstance(nodes[i], "Instance move \(nodes[i].instanceID ?? "") in Cluster \(c) and IG \(nodes[i].groupName) completed successfully")
    }

    /// Moves this change withdrew (R326): nodes that were `DetachInProgress` in `previous` and are now terminating with
    /// their group or cluster (`ShuttingDown`), by where they were going. Each target's TargetCount must shrink back by
    /// them (`cancelMoveIn`).
    public func withdrawnMoves(since previous: ClusterLifecycle) -> [NodeMoveTarget: Int] {
        var moves: [NodeMoveTarget: Int] = [:]
        let now = Dictionary(nodes.map { ($0.logicalID, $0.status) }, uniquingKeysWith: { a, _ in a })
        for node in previous.nodes where node.status == .detachInProgress && now[node.logicalID] == .shuttingDown {
            if let target = node.moveTarget { moves[target, default: 0] += 1 }
        }
        return moves
    }
}

extension NodeMoveTarget: Hashable {}
