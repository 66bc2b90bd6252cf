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
            let plan = try checked(.conflictOrValidation) {
                try lifecycle.planUpdate(input, healthChecksInProgress: lifecycle.healthChecksInProgress,
                                         images: try imageCatalogue(in: context.partition, db: db), now: now)
            }
            // R84: the net increase the request causes, against the partition's usage.
            if let violation = Quotas.firstViolation(
                usage: try ClusterStore.quotaUsage(in: context.partition, db: db), before: lifecycle.targetCounts, after: plan.targetCounts,
                newCluster: false,
                ebsVolumeSizes: Self.ebsVolumeSizes((input.instanceGroups ?? []).map(\.instanceStorageConfigs)
                    + (input.restrictedInstanceGroups ?? []).map(\.instanceStorageConfigs)),
                limits: try quotaLimits(in: context.partition, db: db)
            ) {
                throw AWSError.resourceLimitExceeded(violation.message)
            }
            guard !plan.isNoOp || !plan.reschedules.isEmpty else { return UpdateClusterResponse(clusterArn: lifecycle.cluster.arn) }  // R86
            try commit(&lifecycle, at: now, db: db) { l, c in ((), l.applyUpdate(plan, context: &c)) }
            return UpdateClusterResponse(clusterArn: lifecycle.cluster.arn)
        }
    }
}
