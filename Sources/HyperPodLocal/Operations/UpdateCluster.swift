import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `UpdateCluster` (spec §7), in the order of R68: resolve (R32) → state (R69, R85) → business checks (R70 … R83)
    /// → quotas (R84) → apply, all in one write transaction: a refused request changes nothing.
    /// - Returns: `{"ClusterArn": …}`.
    /// - Throws: `ResourceNotFound` (R32), `ConflictException` (R69, R85), `ValidationException` (R70 … R83),
    ///   `ResourceLimitExceeded` (R84).
    func updateCluster(_ input: UpdateClusterRequest, context: AWSRequestContext) throws -> UpdateClusterResponse {
        try perform { db, now in
            var lifecycle = try resolveCluster(input.clusterName, context: context, db: db)
            let previous = lifecycle
            let plan: UpdatePlan
            do {
                plan = try lifecycle.planUpdate(input, healthChecksInProgress: lifecycle.healthChecksInProgress)
            } catch UpdateRejection.conflict(let message) {
                throw AWSError(code: "ConflictException", message: message)
            } catch UpdateRejection.validation(let message) {
                throw AWSError.validation(message)
            }
            // R84: the net increase the request causes, against the partition's usage.
            if let violation = Quotas.firstViolation(
                usage: try ClusterStore.quotaUsage(in: context.partition, db: db), before: lifecycle.targetCounts, after: plan.targetCounts,
                newCluster: false,
                ebsVolumeSizes: Self.ebsVolumeSizes((input.instanceGroups ?? []).map(\.instanceStorageConfigs)
                    + (input.restrictedInstanceGroups ?? []).map(\.instanceStorageConfigs)),
                limits: try quotaLimits(in: context.partition, db: db)
            ) {
                throw AWSError(code: "ResourceLimitExceeded", message: violation.message)
            }
            guard !plan.isNoOp else { return UpdateClusterResponse(clusterArn: lifecycle.cluster.arn) }  // R86
            var transition = try makeContext(for: lifecycle.cluster, at: now, db: db)
            let effects = lifecycle.applyUpdate(plan, context: &transition)
            try finishTransition(transition, db: db)
            try TransitionStore.schedule(try apply(effects, to: lifecycle, previous: previous, at: now, db: db), db: db)
            return UpdateClusterResponse(clusterArn: lifecycle.cluster.arn)
        }
    }
}
