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

    /// The timer row's text.
    public var encoded: String {
        let object: JSONObject = switch self {
        case .setupComplete: ["event": .string("setupComplete")]
        case .batchLaunched(let group, let nodes):
            ["event": .string("batchLaunched"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string))]
        case .deepHealthCheckComplete(let group, let nodes):
            ["event": .string("deepHealthCheckComplete"), "group": .string(group), "nodes": .array(nodes.map(JSONValue.string))]
        case .nodesTerminated(let nodes): ["event": .string("nodesTerminated"), "nodes": .array(nodes.map(JSONValue.string))]
        case .teardownComplete: ["event": .string("teardownComplete")]
        }
        return String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self)
    }

    /// Decodes a timer row's text; nil for text this version does not know.
    public init?(encoded: String) {
        guard let object = try? JSONParser.parse(encoded).objectValue, let name = object["event"]?.stringValue else { return nil }
        let nodes = object["nodes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let group = object["group"]?.stringValue ?? ""
        switch name {
        case "setupComplete": self = .setupComplete
        case "batchLaunched": self = .batchLaunched(group: group, nodes: nodes)
        case "deepHealthCheckComplete": self = .deepHealthCheckComplete(group: group, nodes: nodes)
        case "nodesTerminated": self = .nodesTerminated(nodes: nodes)
        case "teardownComplete": self = .teardownComplete
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
}

/// New identities for node slots; the caller supplies them (random ids, addresses free in the partition).
public protocol NodeAllocator {
    mutating func newLogicalID() -> String
    mutating func newInstanceID() -> String
    /// A free private address in the block of `subnet` (spec R35).
    mutating func newAddress(subnet: String?) -> UInt32
}

/// A cluster and its node slots, and the transitions between their states (spec §5). A value: the caller loads it,
/// calls one method, performs the returned effects and stores it, all in one transaction. It reads no clock.
public struct ClusterLifecycle: Sendable, Equatable {
    /// Nodes launched together in a group; a group's batches run one after another, groups in parallel (spec R40).
    public static let batchSize = 50

    public var cluster: ClusterRecord
    /// Every slot of the cluster, in creation order.
    public var nodes: [NodeRecord]

    public init(cluster: ClusterRecord, nodes: [NodeRecord]) {
        self.cluster = cluster
        self.nodes = nodes
    }

    /// C1, G1: a cluster accepted by CreateCluster — `Creating`, groups `Creating` with `TargetCount` = `InstanceCount`,
    /// no nodes yet; setup completes after T_setup.
    public static func create(
        request: CreateClusterRequest, arn: String, clusterID: String, account: String, region: String,
        at now: VirtualTime, timing: TimingProfile
    ) -> (ClusterLifecycle, [LifecycleEffect]) {
        let groups = (request.instanceGroups ?? []).map {
            InstanceGroupRecord(spec: $0, status: .creating, targetCount: $0.instanceCount)
        }
        let cluster = ClusterRecord(
            arn: arn, clusterID: clusterID, account: account, region: region, status: .creating, creationTime: now,
            generation: 1, request: request, groups: groups
        )
        return (ClusterLifecycle(cluster: cluster, nodes: []), [.schedule(.setupComplete, afterSeconds: timing[.setup])])
    }

    /// CurrentCount of a group (spec R44).
    public func currentCount(of group: String) -> Int {
        nodes.reduce(0) { $0 + ($1.groupName == group && $1.isCurrent ? 1 : 0) }
    }

    /// Applies a fired timer at its due time `now`.
    public mutating func handle<A: NodeAllocator>(
        _ event: LifecycleEvent, at now: VirtualTime, timing: TimingProfile, allocator: inout A
    ) -> [LifecycleEffect] {
        switch event {
        case .setupComplete:
            guard cluster.status == .creating else { return [] }
            var effects: [LifecycleEffect] = []
            for index in cluster.groups.indices {
                effects += startGroup(index, at: now, timing: timing, allocator: &allocator)
            }
            if cluster.isContinuous && cluster.isEKS { cluster.status = .inService }  // C3
            settleGroupsAndCluster()
            return effects
        case .batchLaunched(let group, let batch):
            guard let groupIndex = cluster.groups.firstIndex(where: { $0.name == group }) else { return [] }
            let deepHealthChecks = !(cluster.groups[groupIndex].spec.onStartDeepHealthChecks ?? []).isEmpty
            for i in nodes.indices where batch.contains(nodes[i].logicalID) && nodes[i].status == .pending {
                if deepHealthChecks {
                    nodes[i].status = .deepHealthCheckInProgress  // N4
                } else {
                    nodes[i].status = .running  // N3
                    nodes[i].reachedRunning = true
                }
            }
            var effects: [LifecycleEffect] = []
            if deepHealthChecks {
                effects.append(.schedule(.deepHealthCheckComplete(group: group, nodes: batch), afterSeconds: timing[.deepHealthCheck]))
            } else {
                effects += launchNextBatch(group: group, timing: timing)
            }
            settleGroupsAndCluster()
            return effects
        case .deepHealthCheckComplete(let group, let batch):
            for i in nodes.indices where batch.contains(nodes[i].logicalID) && nodes[i].status == .deepHealthCheckInProgress {
                nodes[i].status = .running
                nodes[i].reachedRunning = true
            }
            let effects = launchNextBatch(group: group, timing: timing)
            settleGroupsAndCluster()
            return effects
        case .nodesTerminated(let gone):
            nodes.removeAll { gone.contains($0.logicalID) }
            if cluster.status == .deleting && nodes.isEmpty {
                return [.schedule(.teardownComplete, afterSeconds: timing[.delete])]
            }
            return []
        case .teardownComplete:
            guard cluster.status == .deleting, nodes.isEmpty else { return [] }
            return [.removeCluster]
        }
    }

    /// C13, G8, N11: DeleteCluster accepted — `Deleting` at once with counts unchanged, every group `Deleting`, every
    /// node `ShuttingDown`; nodes gone after T_term, the record after T_delete more. The caller cancels the cluster's
    /// other pending timers (the generation moves on).
    public mutating func delete(timing: TimingProfile) -> [LifecycleEffect] {
        cluster.status = .deleting
        cluster.generation += 1
        for i in cluster.groups.indices { cluster.groups[i].status = .deleting }
        for i in nodes.indices { nodes[i].status = .shuttingDown }
        if nodes.isEmpty { return [.schedule(.teardownComplete, afterSeconds: timing[.delete])] }
        return [.schedule(.nodesTerminated(nodes: nodes.map(\.logicalID)), afterSeconds: timing[.terminate])]
    }

    // MARK: - Launching

    /// N1, N2 for every slot of a group (capacity is unlimited here, so every slot gets its instance at once), then the
    /// first batch's launch timer.
    private mutating func startGroup<A: NodeAllocator>(
        _ index: Int, at now: VirtualTime, timing: TimingProfile, allocator: inout A
    ) -> [LifecycleEffect] {
        let group = cluster.groups[index]
        let subnets = group.spec.overrideVpcConfig?.subnets ?? cluster.request.vpcConfig?.subnets ?? []
        for slot in 0..<group.targetCount {
            let subnet = subnets.isEmpty ? nil : subnets[slot % subnets.count]  // round-robin over the subnets (R116)
            nodes.append(NodeRecord(
                logicalID: allocator.newLogicalID(), instanceID: allocator.newInstanceID(), groupName: group.name,
                status: .pending, slotCreated: now, launchTime: now, privateIP: allocator.newAddress(subnet: subnet),
                zone: Placement.zone(ofSubnet: subnet, region: cluster.region)
            ))
        }
        return launchNextBatch(group: group.name, timing: timing)
    }

    /// Schedules the next batch of `Pending` nodes of a group, if any.
    private func launchNextBatch(group: String, timing: TimingProfile) -> [LifecycleEffect] {
        // A batch is in flight while some node of the group is launching or being health-checked.
        let inFlight = nodes.contains { $0.groupName == group && $0.status == .deepHealthCheckInProgress }
        if inFlight { return [] }
        let waiting = nodes.filter { $0.groupName == group && $0.status == .pending }.prefix(Self.batchSize).map(\.logicalID)
        guard !waiting.isEmpty else { return [] }
        return [.schedule(.batchLaunched(group: group, nodes: Array(waiting)), afterSeconds: timing[.launch])]
    }

    /// G2 and C2/C4: groups whose counts are reached become `InService`; a legacy cluster is `InService` when all are.
    private mutating func settleGroupsAndCluster() {
        for i in cluster.groups.indices where cluster.groups[i].status == .creating {
            let group = cluster.groups[i]
            let reached: Bool
            if cluster.isContinuous {
                reached = cluster.status != .creating && currentCount(of: group.name) >= (group.spec.minInstanceCount ?? 0)
            } else {
                reached = currentCount(of: group.name) == group.targetCount
            }
            if reached { cluster.groups[i].status = .inService }
        }
        guard cluster.status == .creating else { return }
        if cluster.isContinuous {
            // C4 (Continuous Slurm): the controller group, and the login group if any, have a Running node.
            let needed = cluster.groups.filter { [.controller, .login].contains($0.spec.slurmConfig?.nodeType) }
            if needed.allSatisfy({ currentCount(of: $0.name) >= 1 }) {
                cluster.status = .inService
                settleGroupsAndCluster()
            }
        } else if cluster.groups.allSatisfy({ $0.status == .inService }) {
            cluster.status = .inService  // C2
        }
    }
}
