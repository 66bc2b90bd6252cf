import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import JSON
import SageMakerShapes

extension ClusterService {
    /// Runs a per-node batch operation (spec R97–R103) in one write transaction.
    private func batch(
        _ operation: ClusterLifecycle.NodeOperation, cluster name: String, nodeIds: [String]?, logicalIds: [String]?,
        context: AWSRequestContext
    ) throws -> (arn: String, result: NodeOperationResult) {
        try perform { db, now in
            var lifecycle = try resolveCluster(name, context: context, db: db)
            // R103, R122: injected per-node InternalServerError results (reboot and replace only); those nodes are left alone.
            var injected = NodeOperationResult()
            var nodeIds = nodeIds, logicalIds = logicalIds
            if operation != .delete {
                let name = operation == .reboot ? "BatchRebootClusterNodes" : "BatchReplaceClusterNodes"
                func failing(_ ids: [String]?) -> [String] { ClusterLifecycle.unique(ids).filter { _ in faults.nodeInternalError(operation: name) } }
                let failed = failing(nodeIds), failedLogical = failing(logicalIds)
                injected.failed = failed.map { .init(id: $0, code: "InternalServerError", message: "An internal error occurred while processing node \($0).") }
                injected.failedLogical = failedLogical.map {
                    .init(id: $0, code: "InternalServerError", message: "An internal error occurred while processing node \($0).")
                }
                if !failed.isEmpty { nodeIds = nodeIds?.filter { !failed.contains($0) } }
                if !failedLogical.isEmpty { logicalIds = logicalIds?.filter { !failedLogical.contains($0) } }
                if (nodeIds ?? []).isEmpty && (logicalIds ?? []).isEmpty && !(injected.failed + injected.failedLogical).isEmpty {
                    try checked(.validationOnly) {
                        try lifecycle.checkNodeOperationState(verb: operation == .reboot ? "rebooted" : "repaired")
                    }
                    return (lifecycle.cluster.arn, injected)
                }
            }
            var result = try commit(&lifecycle, at: now, db: db, codes: .validationOnly) { l, c in
                try l.batch(operation, nodeIds: nodeIds, logicalIds: logicalIds, context: &c)
            }
            result.failed += injected.failed
            result.failedLogical += injected.failedLogical
            return (lifecycle.cluster.arn, result)
        }
    }

    /// `BatchDeleteClusterNodes` (spec R101, R102): accepted nodes go `ShuttingDown` and their group's TargetCount
    /// drops; 200 when any node is accepted, 400 when none is. Empty result lists are omitted.
    /// - Throws: `ResourceNotFound` (R32), `ValidationException` (R97, R98, R101, R102).
    func batchDeleteClusterNodes(_ input: BatchDeleteClusterNodesRequest, context: AWSRequestContext) throws -> BatchDeleteClusterNodesResponse {
        let (_, r) = try batch(.delete, cluster: input.clusterName, nodeIds: input.nodeIds, logicalIds: input.nodeLogicalIds, context: context)
        return BatchDeleteClusterNodesResponse(
            failed: r.failed.isEmpty ? nil : r.failed.map {
                BatchDeleteClusterNodesError(code: BatchDeleteClusterNodesErrorCode(rawValue: $0.code)!, message: $0.message, nodeId: $0.id)
            },
            successful: r.succeeded.isEmpty ? nil : r.succeeded,
            failedNodeLogicalIds: r.failedLogical.isEmpty ? nil : r.failedLogical.map {
                BatchDeleteClusterNodeLogicalIdsError(code: BatchDeleteClusterNodesErrorCode(rawValue: $0.code)!, message: $0.message, nodeLogicalId: $0.id)
            },
            successfulNodeLogicalIds: r.succeededLogical.isEmpty ? nil : r.succeededLogical
        )
    }

    /// `BatchRebootClusterNodes` (spec R103): `Running` or `Failure` nodes go `Pending` and are `Running` again after
    /// T_reboot with the same InstanceId. Always 200; failures under `ErrorCode`.
    func batchRebootClusterNodes(_ input: BatchRebootClusterNodesRequest, context: AWSRequestContext) throws -> BatchRebootClusterNodesResponse {
        let (_, r) = try batch(.reboot, cluster: input.clusterName, nodeIds: input.nodeIds, logicalIds: input.nodeLogicalIds, context: context)
        return BatchRebootClusterNodesResponse(
            successful: r.succeeded.isEmpty ? nil : r.succeeded,
            failed: r.failed.isEmpty ? nil : r.failed.map {
                BatchRebootClusterNodesError(nodeId: $0.id, errorCode: BatchRebootClusterNodesErrorCode(rawValue: $0.code)!, message: $0.message)
            },
            failedNodeLogicalIds: r.failedLogical.isEmpty ? nil : r.failedLogical.map {
                BatchRebootClusterNodeLogicalIdsError(nodeLogicalId: $0.id, errorCode: BatchRebootClusterNodesErrorCode(rawValue: $0.code)!, message: $0.message)
            },
            successfulNodeLogicalIds: r.succeededLogical.isEmpty ? nil : r.succeededLogical
        )
    }

    /// `BatchReplaceClusterNodes` (spec R103): each accepted node gets a new instance (new InstanceId, IP, LaunchTime;
    /// same NodeLogicalId) that launches with the group's current LifeCycleConfig. Always 200.
    func batchReplaceClusterNodes(_ input: BatchReplaceClusterNodesRequest, context: AWSRequestContext) throws -> BatchReplaceClusterNodesResponse {
        let (_, r) = try batch(.replace, cluster: input.clusterName, nodeIds: input.nodeIds, logicalIds: input.nodeLogicalIds, context: context)
        return BatchReplaceClusterNodesResponse(
            successful: r.succeeded.isEmpty ? nil : r.succeeded,
            failed: r.failed.isEmpty ? nil : r.failed.map {
                BatchReplaceClusterNodesError(nodeId: $0.id, errorCode: BatchReplaceClusterNodesErrorCode(rawValue: $0.code)!, message: $0.message)
            },
            failedNodeLogicalIds: r.failedLogical.isEmpty ? nil : r.failedLogical.map {
                BatchReplaceClusterNodeLogicalIdsError(nodeLogicalId: $0.id, errorCode: BatchReplaceClusterNodesErrorCode(rawValue: $0.code)!, message: $0.message)
            },
            successfulNodeLogicalIds: r.succeededLogical.isEmpty ? nil : r.succeededLogical
        )
    }

    /// How long a `ClientToken` is remembered: 8 hours of virtual time (spec R100, R313, R326).
    static let clientTokenLifetimeSeconds = 8.0 * 3600

    /// The answer a `ClientToken` was given within its lifetime, to replay (spec R100, R313, R326); nil when the token
    /// is unknown or has lapsed.
    /// - Throws: `ValidationException` `ClientToken <token> was already used with different parameters.`
    func replayedAnswer(_ stored: ClusterStore.ClientTokenRecord?, token: String, parameters: String, at now: VirtualTime) throws -> String? {
        guard let stored, stored.createdAt.adding(seconds: Self.clientTokenLifetimeSeconds) > now else { return nil }
        guard stored.parameters == parameters else {
            throw AWSError.validation("ClientToken \(token) was already used with different parameters.")
        }
        return stored.response
    }

    /// `BatchAddClusterNodes` (spec R100): Continuous clusters; per-entry failures, always 200; quotas (R84) fail the
    /// whole request; a `ClientToken` replays the first answer (with current statuses) for 8 virtual hours.
    /// - Throws: `ResourceNotFound` (R32), `ValidationException` (R97, R100, a reused token), `ResourceLimitExceeded`.
    func batchAddClusterNodes(_ input: BatchAddClusterNodesRequest, context: AWSRequestContext) throws -> BatchAddClusterNodesResponse {
        try perform { db, now in
            var lifecycle = try resolveCluster(input.clusterName, context: context, db: db)
            let arn = lifecycle.cluster.arn
            let parameters = String(decoding: JSONWriter.encode(.array(input.nodesToAdd.map(\.jsonValue))), as: UTF8.self)
            if let token = input.clientToken, let answer = try replayedAnswer(
                try ClusterStore.clientToken(token, cluster: arn, db: db), token: token, parameters: parameters, at: now) {
                var replay = try BatchAddClusterNodesResponse(json: try JSONParser.parse(answer))
                for i in replay.successful.indices {
                    replay.successful[i].status = lifecycle.nodes.first { $0.logicalID == replay.successful[i].nodeLogicalId }?.status ?? .notFound
                }
                return replay
            }
            var plans = try checked(.validationOnly) { try lifecycle.planBatchAdd(input.nodesToAdd) }
            // R223: a plan-backed group launches only in its plan's zones: other AvailabilityZones are incompatible (R100).
            for i in plans.indices where plans[i].errorCode == nil {
                guard let wanted = plans[i].entry.availabilityZones,
                      let group = lifecycle.cluster.groups.first(where: { $0.name == plans[i].entry.instanceGroupName }),
                      let key = group.planKey, let plan = try TrainingPlanStore.plan(key, db: db) else { continue }
                let zones = Set(plan.reservedCapacities.filter { $0.instanceType == group.spec.instanceType?.rawValue }.map(\.zone))
                if let outside = wanted.first(where: { !zones.contains($0) }) {
                    plans[i].errorCode = .incompatibleAvailabilityZones
                    plans[i].message = "Availability zone \(outside) is not in the reserved capacity of training plan \(plan.name) for instance group \(group.name)."
                }
            }
            var after = lifecycle.targetCounts
            for plan in plans where plan.errorCode == nil {
                if let group = lifecycle.cluster.groups.first(where: { $0.name == plan.entry.instanceGroupName }) {
                    after.append((group.spec.quotaInstanceType, plan.entry.incrementTargetCountBy))
                }
            }
            if let violation = Quotas.firstViolation(
                usage: try ClusterStore.quotaUsage(in: context.partition, db: db), before: lifecycle.targetCounts, after: after, newCluster: false,
                ebsVolumeSizes: [], limits: try quotaLimits(in: context.partition, db: db)
            ) {
                throw AWSError.resourceLimitExceeded(violation.message)
            }
            let created = try commit(&lifecycle, at: now, db: db, codes: .validationOnly) { l, c in l.applyBatchAdd(plans, context: &c) }
            var successful: [NodeAdditionResult] = []
            var failed: [BatchAddClusterNodesError] = []
            for (plan, ids) in zip(plans, created) {
                let entry = plan.entry
                if let code = plan.errorCode {
                    failed.append(BatchAddClusterNodesError(
                        instanceGroupName: entry.instanceGroupName, errorCode: code, failedCount: entry.incrementTargetCountBy,
                        availabilityZones: entry.availabilityZones, instanceTypes: entry.instanceTypes, message: plan.message))
                }
                for id in ids {
                    successful.append(NodeAdditionResult(
                        nodeLogicalId: id, instanceGroupName: entry.instanceGroupName, status: .pending,
                        availabilityZones: entry.availabilityZones, instanceTypes: entry.instanceTypes))
                }
            }
            let response = BatchAddClusterNodesResponse(successful: successful, failed: failed)
            if let token = input.clientToken {
                try ClusterStore.saveClientToken(token, cluster: arn, record: ClusterStore.ClientTokenRecord(
                    parameters: parameters, response: String(decoding: JSONWriter.encode(response.jsonValue), as: UTF8.self),
                    createdAt: now), db: db)
            }
            return response
        }
    }
}
