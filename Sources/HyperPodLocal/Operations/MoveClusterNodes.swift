import AWSJSONProtocol
import HyperPodDomain
import HyperPodStore
import JSON
import SageMakerShapes

extension ClusterService {
    /// `MoveClusterNodes` (spec §19.3, R320–R326): moves Running nodes of an EKS Continuous cluster's instance group to
    /// another group of the same cluster or of another cluster of the caller's partition. At acceptance the source
    /// group's TargetCount drops and the target's grows (one `Scaling` operation per cluster); each node is
    /// `DetachInProgress` in the source for T_term (virtual seconds), then `AttachInProgress` in the target with the same
    /// InstanceId, NodeLogicalId and address for T_launch, then `Running`. A `ClientToken` replays the first answer for
    /// 8 virtual hours.
    /// - Returns: `Successful`/`Failed` for `NodeIds` and `InstanceCount`, `SuccessfulNodeLogicalIds`/
    ///   `FailedNodeLogicalIds` for `NodeLogicalIds`; empty lists omitted.
    /// - Throws: `ValidationException` (R320, R321, R323, a reused token), `ResourceNotFound` (R32),
    ///   `ResourceLimitExceeded` (R84's per-cluster quota, R323).
    func moveClusterNodes(_ input: MoveClusterNodesRequest, context: AWSRequestContext) throws -> MoveClusterNodesResponse {
        try perform { db, now in
            // R320: both ARNs in the caller's account and Region, then both clusters known.
            let partition = context.partition
            for arn in [input.sourceClusterArn, input.targetClusterArn] {
                let fields = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
                guard fields.count == 6, fields[1] == context.identity.partition, fields[3] == partition.region,
                      fields[4] == partition.account else {
                    throw AWSError.validation("SourceClusterArn and TargetClusterArn must be in the account and Region of the request.")
                }
            }
            let loadedSource = try resolveCluster(input.sourceClusterArn, context: context, db: db)
            let sameCluster = loadedSource.cluster.arn == (try resolveClusterARN(input.targetClusterArn, context: context, db: db))
            let loadedTarget = sameCluster ? loadedSource : try resolveCluster(input.targetClusterArn, context: context, db: db)

            // R326: a token seen within 8 virtual hours replays its answer.
            let parameters = Self.moveParameters(input)
            // Tokens are the caller's, whatever the clusters: looked up over the partition, kept with the source cluster.
            let tokenKey = input.clientToken.map { "MoveClusterNodes:" + $0 }
            if let token = input.clientToken, let key = tokenKey, let answer = try replayedAnswer(
                try ClusterStore.clientToken(key, in: partition, db: db), token: token, parameters: parameters, at: now) {
                return try MoveClusterNodesResponse(json: try JSONParser.parse(answer))
            }

            let plan = try checked(.validationOnly) {
                try NodeMoves.plan(
                    source: loadedSource, sourceGroup: input.sourceInstanceGroupName, target: loadedTarget,
                    targetGroup: input.targetInstanceGroupName,
                    selection: NodeMoveSelection(nodeIds: input.nodeIds, nodeLogicalIds: input.nodeLogicalIds, instanceCount: input.instanceCount),
                    attachments: try moveAttachments(of: loadedSource, group: input.sourceInstanceGroupName, at: now, db: db))
            }
            // R323: only the per-cluster quota, for a move into another cluster.
            if !sameCluster {
                if let violation = Quotas.perClusterViolation(
                    clusterTotal: loadedTarget.targetCounts.reduce(0) { $0 + $1.1 }, delta: plan.accepted.count,
                    limits: try quotaLimits(in: partition, db: db)) {
                    throw AWSError.resourceLimitExceeded(violation.message)
                }
            }

            // R324: one change per cluster, each recording its Scaling operation (one with both groups in one cluster).
            let destination = NodeMoveTarget(clusterARN: loadedTarget.cluster.arn, clusterName: loadedTarget.cluster.name,
                                             instanceGroupName: input.targetInstanceGroupName)
            var source = loadedSource
            try commit(&source, at: now, db: db, codes: .validationOnly) { l, c in
                if sameCluster { l.expectMoveIn(plan.accepted.count, to: input.targetInstanceGroupName) }
                return ((), l.beginMoveOut(plan.accepted, from: input.sourceInstanceGroupName, to: destination, timing: c.timing))
            }
            if !sameCluster {
                var target = loadedTarget
                try commit(&target, at: now, db: db, codes: .validationOnly) { l, _ in
                    l.expectMoveIn(plan.accepted.count, to: input.targetInstanceGroupName)
                    return ((), [])
                }
            }
            let r = plan.result
            let response = MoveClusterNodesResponse(
                successful: r.succeeded.isEmpty ? nil : r.succeeded,
                failed: r.failed.isEmpty ? nil : r.failed.map {
                    MoveClusterNodesError(code: MoveClusterNodesErrorCode(rawValue: $0.code)!, message: $0.message, nodeId: $0.id)
                },
                successfulNodeLogicalIds: r.succeededLogical.isEmpty ? nil : r.succeededLogical,
                failedNodeLogicalIds: r.failedLogical.isEmpty ? nil : r.failedLogical.map {
                    MoveClusterNodeLogicalIdsError(code: MoveClusterNodesErrorCode(rawValue: $0.code)!, message: $0.message, nodeLogicalId: $0.id)
                })
            if let key = tokenKey {
                try ClusterStore.saveClientToken(key, cluster: loadedSource.cluster.arn, record: ClusterStore.ClientTokenRecord(
                    parameters: parameters, response: String(decoding: JSONWriter.encode(response.jsonValue), as: UTF8.self),
                    createdAt: now), db: db)
            }
            return response
        }
    }

    /// The request's parameters as a ClientToken compares them (R326): every member but the token, canonical JSON.
    static func moveParameters(_ input: MoveClusterNodesRequest) -> String {
        var request = input
        request.clientToken = nil
        return String(decoding: JSONWriter.encode(request.jsonValue), as: UTF8.self)
    }

    /// What the source group's volume attachments say about moving its nodes (R322): nodes with an attachment
    /// `attaching`/`detaching` at `now`, and nodes with an attached volume.
    func moveAttachments(of lifecycle: ClusterLifecycle, group: String, at now: VirtualTime, db: StoreTransaction) throws -> NodeMoveAttachments {
        var result = NodeMoveAttachments()
        let members = Set(lifecycle.nodes.filter { $0.groupName == group }.map(\.logicalID))
        for attachment in try AttachmentStore.attachments(ofCluster: lifecycle.cluster.arn, db: db)
        where attachment.kind == .volume && members.contains(attachment.nodeLogicalID) {
            let node = lifecycle.nodes.first { $0.logicalID == attachment.nodeLogicalID }
            guard node?.instanceID == attachment.instanceID else { continue }  // an attachment ends with its instance (R331)
            switch attachment.status(at: now) {
            case .attaching?, .detaching?: result.busy.insert(attachment.nodeLogicalID)
            case .attached?: result.withVolumes.insert(attachment.nodeLogicalID)
            case nil: break
            }
        }
        return result
    }

    /// The hand-off of a move (R324), T_term after acceptance, in the fired timer's transaction: the nodes still
    /// `DetachInProgress` leave the source and join their target group as `AttachInProgress`, their network interface
    /// attachments with them (R333). A target cluster or group that is gone or `Deleting` takes nothing: the nodes stay
    /// in the source, `Running` again (R326, emulator decision).
    /// - Returns: the timers of both clusters.
    func handOffMovedNodes(_ ids: [String], from loaded: ClusterLifecycle, at now: VirtualTime, db: StoreTransaction) throws -> [NewTransition] {
        let set = Set(ids)
        var byTarget: [NodeMoveTarget: [String]] = [:]
        for node in loaded.nodes where set.contains(node.logicalID) && node.status == .detachInProgress {
            if let target = node.moveTarget { byTarget[target, default: []].append(node.logicalID) }
        }
        var timers: [NewTransition] = []
        var source = loaded
        for (destination, moving) in byTarget.sorted(by: { $0.key.clusterARN + $0.key.instanceGroupName < $1.key.clusterARN + $1.key.instanceGroupName }) {
            let sameCluster = destination.clusterARN == source.cluster.arn
            let target = sameCluster ? source : try ClusterStore.load(destination.clusterARN, db: db)
            let open = target.map { t in
                t.cluster.status != .deleting
                    && t.cluster.groups.contains { $0.name == destination.instanceGroupName && $0.status != .deleting }
            } ?? false
            guard open else {
                timers += try transition(&source, at: now, db: db) { l, _ in (l.cancelMoveOut(moving), []) }.timers
                continue
            }
            var leaving: [NodeRecord] = []
            timers += try transition(&source, at: now, db: db) { l, c in
                leaving = l.handOff(moving)
                guard sameCluster else { return ((), []) }
                return ((), l.receiveMovedNodes(leaving, into: destination.instanceGroupName, context: &c))
            }.timers
            if !sameCluster, var target {
                timers += try transition(&target, at: now, db: db) { l, c in
                    ((), l.receiveMovedNodes(leaving, into: destination.instanceGroupName, context: &c))
                }.timers
            }
            let moved = Set(leaving.map(\.logicalID))
            for var attachment in try AttachmentStore.attachments(ofCluster: loaded.cluster.arn, db: db)
            where attachment.kind == .networkInterface && moved.contains(attachment.nodeLogicalID) {
                attachment.clusterARN = destination.clusterARN
                try AttachmentStore.save(attachment, in: ClusterStore.Partition(account: loaded.cluster.account, region: loaded.cluster.region), db: db)
            }
        }
        return timers
    }

    /// Nodes a change terminated while they were `DetachInProgress` (their source cluster or group deleted, R326): each
    /// target group's TargetCount shrinks back by the nodes that will not arrive. Called by `apply` once the source is
    /// saved (a target in the same cluster is loaded again, with that change).
    func withdrawMoves(_ moves: [NodeMoveTarget: Int], from source: ClusterLifecycle, at now: VirtualTime, db: StoreTransaction) throws {
        for (destination, count) in moves.sorted(by: { $0.key.clusterARN + $0.key.instanceGroupName < $1.key.clusterARN + $1.key.instanceGroupName }) {
            guard var target = try ClusterStore.load(destination.clusterARN, db: db), target.cluster.status != .deleting else { continue }
            try commit(&target, at: now, db: db, records: .none) { l, _ in
                l.cancelMoveIn(count, to: destination.instanceGroupName, from: source.cluster.name)
                return ((), [])
            }
        }
    }
}
